"""Each widget keeps its styles in a ``.tcss`` file beside its module.

Textual only reads ``CSS_PATH`` for apps and screens, so widgets load their file into
``DEFAULT_CSS`` at import time; the styles stay next to the code they style.
"""

from __future__ import annotations

from pathlib import Path


def load_tcss(module_file: str) -> str:
    """The ``.tcss`` file with the same stem as ``module_file`` (empty if missing)."""
    path = Path(module_file).with_suffix(".tcss")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def tcss_path(module_file: str) -> str:
    """Path of the ``.tcss`` beside ``module_file``, for a screen's ``CSS_PATH``."""
    return str(Path(module_file).with_suffix(".tcss"))
