"""Console preferences (the chosen theme) in a small JSON file, private to the user."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ats.exceptions import ConfigError
from ats.utils.config_files import load_json_file

DEFAULT_SETTINGS_PATH = Path("saved_states") / "ui.json"
UI_SETTINGS_NAME = ".ui.json"
"""The theme choice, kept with the saved state (by ``ats`` and ``ats attach``). Hidden:
every visible ``*.json`` in that directory is taken for a job snapshot."""

log = logging.getLogger(__name__)


@dataclass(slots=True)
class UISettings:
    theme: str | None = None

    @classmethod
    def load(cls, path: Path) -> UISettings:
        """Settings from ``path``; defaults when missing or unreadable (never raises)."""
        if not Path(path).exists():
            return cls()
        try:
            data = load_json_file(path)  # bounded: size, depth, finite numbers
        except ConfigError as exc:
            log.warning("ignoring unreadable UI settings: %s", exc)
            return cls()
        if not isinstance(data, dict):
            return cls()
        theme = data.get("theme")
        return cls(theme=theme if isinstance(theme, str) else None)

    def save(self, path: Path) -> None:
        """Write atomically with mode 0600 (the directory is created 0700 if missing)."""
        path = Path(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = json.dumps(asdict(self), indent=2) + "\n"
        descriptor, temporary = tempfile.mkstemp(prefix=".ui-", suffix=".json", dir=path.parent)
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
