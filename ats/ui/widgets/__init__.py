"""Small widgets of the main screen; each has its ``.tcss`` beside it."""
