"""A line-API view's virtual size, set without a screen layout.

Textual declares ``Widget.virtual_size`` with ``layout=True``: every change lays out the
whole screen (7-25 ms at 160x48), although for a view that draws its own lines only its
scrollbars depend on it. The log, the Trades pane and the Metrics panel change it as
lines arrive, even while hidden, and were most of the console's layouts with jobs
running (bench/ui_latency.py). A layout is still asked for when a scrollbar appears or
goes, since that moves the view's content.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.widget import Widget


def set_virtual_size(view: Widget, size: Size) -> None:
    if view.virtual_size == size:
        return
    scrollbars = (view.show_vertical_scrollbar, view.show_horizontal_scrollbar)
    view.set_reactive(Widget.virtual_size, size)
    # Textual's own update of the scrollbars after a size change (Widget._size_updated).
    view._scroll_update(size)
    layout = (view.show_vertical_scrollbar, view.show_horizontal_scrollbar) != scrollbars
    view.refresh(layout=layout)
