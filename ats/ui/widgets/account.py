"""Position, open orders and balances of the selected job."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ats.trading_job.views import JobView
from ats.ui import job_view
from ats.ui.job_view import AccountView
from ats.ui.tcss import load_tcss

ORDER_COLUMNS = ("Side", "Type", "Amount", "Price", "Filled", "Status", "Id")


class AccountPanel(Vertical):
    """Set the job with :meth:`set_job`, push its latest view with :meth:`show`."""

    DEFAULT_CSS = load_tcss(__file__)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Orders (o)"
        self._job_id: str | None = None
        self._job_view: JobView | None = None
        self._view: AccountView | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="account-summary")
        table: DataTable[str | Text] = DataTable(id="orders-table", cursor_type="row")
        table.border_title = "Open orders"
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#orders-table", DataTable)
        for label in ORDER_COLUMNS:
            table.add_column(label, key=label.lower())
        self._show_view()

    @property
    def orders_table(self) -> DataTable[str | Text]:
        return self.query_one("#orders-table", DataTable)

    @property
    def job_id(self) -> str | None:
        return self._job_id

    def set_job(self, job_id: str | None, view: JobView | None = None) -> None:
        """Show another job (its view, when the caller has it; else empty until
        :meth:`show`)."""
        if job_id != self._job_id:
            self._job_id = job_id
            self._job_view = view if view is not None and view.job_id == job_id else None
            self._view = None
            self._show_view()

    def show(self, view: JobView | None, *, force: bool = False) -> None:
        """The job's latest view; cheap when what it shows did not change."""
        if view is not None and view.job_id != self._job_id:
            return  # another job was selected meanwhile
        self._job_view = view
        if force:
            self._view = None
        self._show_view()

    def _show_view(self) -> None:
        if not self.is_mounted:
            return
        view = job_view.account_view(self._job_view)
        if view == self._view:
            return
        previous, self._view = self._view, view
        # The summary has a fixed height, so an update never needs a screen layout.
        self.query_one("#account-summary", Static).update(self._summary(view), layout=False)
        if previous is None or previous.orders != view.orders:
            self._fill_orders(view)

    def _summary(self, view: AccountView) -> Table | Text:
        variables = self.app.theme_variables
        if view.error is not None:  # wrapped over the summary's lines, in the error colour
            return Text(view.error, style=f"bold {variables.get('error', '')}".strip())
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column("key", style="bold", no_wrap=True, min_width=9)
        table.add_column("value", overflow="ellipsis", no_wrap=True, ratio=1)
        table.add_row(Text("Position"), Text(view.position))
        line = Text(view.mark)
        if view.unrealized is not None:
            colour = variables.get("success" if view.unrealized >= 0 else "error", "")
            line.append(f"  uPnL {view.unrealized:+,.2f}", style=colour)
        table.add_row(Text(""), line)
        if not view.balances:
            table.add_row(Text("Balances"), Text("—", style="dim"))
        for index, (asset, free, used, total) in enumerate(view.balances):
            line = Text(f"{asset:<5} {total:>14}")
            if used != "0":
                line.append(f"  free {free} · in orders {used}", style="dim")
            table.add_row(Text("Balances" if index == 0 else ""), line)
        return table

    def _fill_orders(self, view: AccountView) -> None:
        table = self.orders_table
        table.clear()
        variables = self.app.theme_variables
        for order in view.orders:
            side_style = variables.get("success" if order.side == "buy" else "error", "")
            table.add_row(
                Text(order.side, style=side_style),
                order.type,
                Text(order.amount, justify="right"),
                Text(order.price, justify="right"),
                Text(order.filled, justify="right"),
                order.status,
                order.order_id,
                key=order.order_id,
            )
        table.border_subtitle = f"{len(view.orders)} open"
