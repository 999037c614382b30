"""What to alert about and where, from the ``ATS_ALERT_*`` settings.

Every problem is a ConfigError naming the setting, raised before any job starts. The
channel URLs carry tokens and passwords, so they are registered for redaction (every log
line, snapshot and alert masks them) and never printed: a bad entry is named by its
position and scheme only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import parse_qsl, urlsplit

from ats.exceptions import ConfigError
from ats.utils.redaction import register_secret
from ats.utils.settings import Settings

KINDS = ("fill", "error", "status", "kill_switch", "connection")
MODES = ("backtest", "paper", "live")
_URL_SPLIT = re.compile(r"\s+|,(?=\s*[A-Za-z][A-Za-z0-9+.-]*://)")
"""Spaces separate URLs; so does a comma, but only before the next ``scheme://`` (apprise
URLs may hold commas, e.g. ``mailto://...?to=a@x.org,b@y.org``)."""
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_TOKEN_LENGTH = 16
"""URL parts this long (bot tokens, webhook keys) are masked wherever they appear."""


@dataclass(frozen=True, slots=True)
class AlertConfig:
    urls: tuple[str, ...]
    kinds: frozenset[str]
    jobs: tuple[str, ...]
    """Glob patterns of job names or ids that alert."""
    excluded: tuple[str, ...]
    """Patterns given as ``!pattern``: these jobs never alert."""
    modes: frozenset[str]
    interval_s: float
    batch_s: float
    timeout_s: float
    summary_at: tuple[int, int] | None
    """(hour, minute) UTC of the daily summary."""

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertConfig | None:
        """The alert configuration, or None when no channel is configured."""
        urls = split_urls(settings.alert_urls.get_secret_value())
        if not urls:
            return None
        for url in urls:
            register_url_secrets(url)
        kinds = _words(settings.alert_kinds, "ATS_ALERT_KINDS", KINDS)
        modes = _words(settings.alert_modes, "ATS_ALERT_MODES", MODES)
        patterns = [item for item in _items(settings.alert_jobs)]
        return cls(
            urls=tuple(urls),
            kinds=frozenset(kinds),
            jobs=tuple(p for p in patterns if not p.startswith("!")) or ("*",),
            excluded=tuple(p[1:] for p in patterns if p.startswith("!")),
            modes=frozenset(modes),
            interval_s=settings.alert_interval_s,
            batch_s=settings.alert_batch_s,
            timeout_s=settings.alert_timeout_s,
            summary_at=parse_summary_time(settings.alert_summary_at),
        )

    def wants_job(self, name: str, job_id: str, mode: str) -> bool:
        """Whether this job alerts at all (its mode and the ``ATS_ALERT_JOBS`` patterns)."""
        if mode not in self.modes:
            return False

        def matches(patterns: tuple[str, ...]) -> bool:
            return any(fnmatchcase(name, p) or fnmatchcase(job_id, p) for p in patterns)

        return matches(self.jobs) and not matches(self.excluded)


def split_urls(text: str) -> list[str]:
    return [item for item in _URL_SPLIT.split(text.strip()) if item]


def register_url_secrets(url: str) -> None:
    """Mask a channel URL and its credentials: user and password, and every host, path
    segment or query value long enough to be a token."""
    register_secret(url)
    parts = urlsplit(url)
    for value in (parts.username, parts.password):
        if value:
            register_secret(value)
    candidates = [parts.netloc, *parts.path.split("/")]  # tgram://<bot token>/<chat>
    candidates += [value for _key, value in parse_qsl(parts.query)]
    for value in candidates:
        if len(value) >= _TOKEN_LENGTH:
            register_secret(value)


def scheme_of(url: str) -> str:
    """The only part of a channel URL that may be shown (``tgram``, ``json``...)."""
    return url.partition("://")[0] if "://" in url else "?"


def parse_summary_time(text: str) -> tuple[int, int] | None:
    text = text.strip()
    if not text:
        return None
    match = _TIME.match(text)
    if match is None:
        raise ConfigError(f"ATS_ALERT_SUMMARY_AT: {text!r} is not a time of day HH:MM (UTC)")
    return int(match.group(1)), int(match.group(2))


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _words(text: str, setting: str, known: tuple[str, ...]) -> list[str]:
    items = [item.lower() for item in _items(text)]
    for item in items:
        if item not in known:
            raise ConfigError(f"{setting}: unknown value {item!r} (known: {', '.join(known)})")
    return items
