"""Screens of the console: main, new/edit job form, confirm, help."""
