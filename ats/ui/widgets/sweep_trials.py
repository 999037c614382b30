"""A sweep's trials, sorted by any metric (the pane's ``z`` cycles the sort column).

One row per trial of a :class:`~ats.trading_job.sweep_views.TrialPage`: its number, its
params, the objective, the sort column when it is another metric, the final equity and
the trade count. The cursor stays on the same trial when the page is redrawn (trials
keep arriving while the sweep runs), so the trial promoted is the one the user chose; a
cursor on the first row stays there, on the best trial so far.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ats.trading_job.sweep_views import (
    SORT_FINAL_EQUITY,
    SORT_OBJECTIVE,
    SORT_TRADES,
    SORT_TRIAL,
    TrialPage,
    TrialView,
)
from ats.ui.sweep_format import format_value
from ats.ui.tcss import load_tcss

SHOWN_ALWAYS = (SORT_TRIAL, SORT_OBJECTIVE, SORT_FINAL_EQUITY, SORT_TRADES)


def cell(trial: TrialView, key: str) -> str:
    if key == SORT_TRIAL:
        return str(trial.number)
    if trial.error is not None and key != SORT_TRADES:
        return "error"
    value = {
        SORT_OBJECTIVE: trial.objective,
        SORT_FINAL_EQUITY: trial.final_equity,
        SORT_TRADES: trial.trades,
    }.get(key, (trial.metrics or {}).get(key))
    return "—" if value is None else format_value(value)


class SweepTrialsTable(DataTable[Text]):
    """Show a page with :meth:`show`; :attr:`selected_trial` is the trial under the cursor."""

    DEFAULT_CSS = load_tcss(__file__)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.page: TrialPage | None = None
        self.objective = "objective"
        self._shape: tuple[str, ...] = ()
        self._numbers: list[int] = []

    @property
    def selected_trial(self) -> int | None:
        if 0 <= self.cursor_row < len(self._numbers):
            return self._numbers[self.cursor_row]
        return None

    def show(self, page: TrialPage, params: tuple[str, ...], objective: str) -> None:
        if page == self.page and objective == self.objective:
            return
        keep = self.selected_trial if self.cursor_row > 0 else None  # on top: stay on top
        self.page, self.objective = page, objective
        extra = () if page.sort in SHOWN_ALWAYS else (page.sort,)
        keys = (SORT_TRIAL, *params, SORT_OBJECTIVE, *extra, SORT_FINAL_EQUITY, SORT_TRADES)
        shape = (*keys, page.sort, str(page.descending))
        if shape != self._shape:
            self.clear(columns=True)
            arrow = "▼" if page.descending else "▲"
            for key in keys:  # the sorted column says so
                label = self._label(key)
                self.add_column(f"{label}{arrow}" if key == page.sort else label, key=key)
            self._shape = shape
        else:
            self.clear()
        self._numbers = [trial.number for trial in page.trials]
        for trial in page.trials:
            self.add_row(
                *(
                    Text(str(trial.params.get(key, "")) if key in params else cell(trial, key))
                    for key in keys
                ),
                key=str(trial.number),
            )
        if keep in self._numbers:
            self.move_cursor(row=self._numbers.index(keep), animate=False)

    def _label(self, key: str) -> str:
        return {
            SORT_TRIAL: "#",
            SORT_OBJECTIVE: self.objective,
            SORT_FINAL_EQUITY: "equity",
            SORT_TRADES: "trades",
        }.get(key, key)
