"""Alert lines, and the batcher that turns them into rate-limited messages.

A quiet spell's first line waits ``batch_s`` for others to join it (a fill and the
status change it causes go out together); after a message, the next waits until
``interval_s`` has passed, gathering everything that happened meanwhile. A message keeps
at most ``max_lines`` lines (fills give way to every other kind) and counts the rest by
kind, so a burst of a thousand fills is one short message, not a thousand, and never
more than a chat service accepts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ats.exchanges.data_classes import Fill
from ats.utils.redaction import redact

MAX_LINES = 20
MAX_CHARS = 3_500
"""Below Telegram's 4,096 characters per message, the tightest common channel."""
_ERROR_CHARS = 300
_LEVELS = {"error": "failure", "kill_switch": "warning", "connection": "warning"}
"""apprise notify types (info, success, warning, failure) by kind; others are info."""
_NOUNS = {
    "fill": ("fill", "fills"),
    "error": ("error", "errors"),
    "status": ("status change", "status changes"),
    "kill_switch": ("kill switch", "kill switches"),
    "connection": ("connection change", "connection changes"),
}


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    level: str
    """apprise's notify type: info, warning or failure."""


# -- lines ---------------------------------------------------------------------------------
def fill_line(label: str, fill: Fill) -> str:
    base, _, quote = fill.symbol.partition("/")
    return (
        f"{label}: {fill.side.value.upper()} {fill.amount:.8g} {base} @ {fill.price:,.8g} "
        f"{quote}, fee {fill.fee:.6g} {fill.fee_currency}"
    )


def status_line(label: str, previous: str, status: str, error: str | None) -> str:
    """``started``, ``resumed``, ``paused``, ``stopped``, ``finished`` or ``error: why``."""
    verb = {"running": "resumed" if previous == "paused" else "started"}.get(status, status)
    line = f"{label}: {verb}"
    if error:
        first = error.strip().splitlines()[0] if error.strip() else ""
        if len(first) > _ERROR_CHARS:
            first = first[: _ERROR_CHARS - 1] + "…"
        line += f": {first}"
    return line


def kill_switch_line(label: str, cancelled: int) -> str:
    return f"{label}: kill switch, {cancelled} open order(s) cancelled"


def connection_line(label: str, state: str | None) -> str:
    if state is None:
        return f"{label}: exchange connection back to normal"
    return f"{label}: exchange connection {state}"


def plural(count: int, kind: str, more: str = "") -> str:
    one, many = _NOUNS.get(kind, (kind, kind))
    return f"{count} {more}{one if count == 1 else many}"


# -- batching ------------------------------------------------------------------------------
class Batcher:
    """Collects alerts; :meth:`take` hands out at most one message per ``interval_s``."""

    def __init__(
        self,
        *,
        interval_s: float,
        batch_s: float,
        max_lines: int = MAX_LINES,
        max_chars: int = MAX_CHARS,
    ) -> None:
        self.interval_s = interval_s
        self.batch_s = batch_s
        self.max_lines = max_lines
        self.max_chars = max_chars
        self._lines: list[Alert] = []
        self._counts: Counter[str] = Counter()
        self._opened: float | None = None
        self._last_sent: float | None = None
        self.lost_events = 0
        """Events the bus dropped before they were read (a flood): said in the message."""

    def add(self, alert: Alert, now: float) -> None:
        if self._opened is None:
            self._opened = now
        self._counts[alert.kind] += 1
        if len(self._lines) >= self.max_lines:
            fills = [i for i, line in enumerate(self._lines) if line.kind == "fill"]
            if alert.kind == "fill" or not fills:
                return  # counted in the "… and N more" line
            del self._lines[fills[-1]]  # an error is never hidden behind fills
        self._lines.append(Alert(alert.kind, redact(alert.text)))

    @property
    def pending(self) -> bool:
        return self._opened is not None

    def due_in(self, now: float) -> float | None:
        """Seconds until the pending batch may go out (0: now); None when empty."""
        if self._opened is None:
            return None
        due = self._opened + self.batch_s
        if self._last_sent is not None:
            due = max(due, self._last_sent + self.interval_s)
        return max(due - now, 0.0)

    def take(self, now: float, *, force: bool = False) -> Message | None:
        """The pending batch as a message, if it is due (or ``force``: the last one)."""
        wait = self.due_in(now)
        if wait is None or (wait > 0 and not force):
            return None
        message = self._compose()
        self._lines, self._counts, self._opened = [], Counter(), None
        self._last_sent = now
        return message

    def _compose(self) -> Message:
        counts = self._counts
        kinds = sorted(counts, key=lambda kind: (list(_NOUNS).index(kind), kind))
        title = "ATS: " + ", ".join(plural(counts[kind], kind) for kind in kinds)
        shown = Counter(alert.kind for alert in self._lines)
        lines = [alert.text for alert in self._lines]
        more = [plural(counts[k] - shown[k], k, "more ") for k in kinds if counts[k] > shown[k]]
        if more:
            lines.append(f"… and {', '.join(more)}")
        if self.lost_events:
            lines.append(f"({self.lost_events} events were dropped in a flood; see the log)")
            self.lost_events = 0
        body = "\n".join(lines)
        if len(body) > self.max_chars:
            body = body[: self.max_chars - 1] + "…"
        level = "info"
        for kind in ("connection", "kill_switch", "error"):  # the last found wins
            if counts[kind]:
                level = _LEVELS[kind]
        return Message(redact(title), body, level)
