"""The workspace: the one directory that holds a user's ATS files.

A workspace has ``saved_states/`` (job snapshots and the journal), ``custom_modules/``
(plugins), ``themes/``, ``data/`` (candle files) and ``.env`` (settings and credentials).
ATS uses ``$ATS_HOME`` when it is set, else the current directory: no walking up the
tree, because the candle paths in job configs (``data: data/x.csv``) are read from the
current directory, and a workspace found in a parent would split a job's state from its
data. A clone of the repository is a workspace; ``ats init [DIR]`` makes a new one from
the template bundled with the package (:func:`bundled`), which is also where the demo's
candles and the stock themes are read from when ATS is installed as a tool.

Only the standard library is imported here: ``ats --help`` stays instant.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ats.exceptions import ConfigError

HOME_ENV = "ATS_HOME"
"""Environment variable naming the workspace (read from the environment only, not .env:
it says where .env is)."""
SAVED_STATES, CUSTOM_MODULES, THEMES, DATA, ENV_FILE = (
    "saved_states",
    "custom_modules",
    "themes",
    "data",
    ".env",
)


def root() -> Path:
    """The workspace directory: ``$ATS_HOME``, else ``Path()`` (the current directory,
    kept relative so that paths shown stay as short as they always were).

    Raises ConfigError when ``ATS_HOME`` names no directory.
    """
    home = os.environ.get(HOME_ENV, "").strip()
    if not home:
        return Path()
    path = Path(home).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"{HOME_ENV}={home}: no such directory (create a workspace there with 'ats init')"
        )
    return path


def path(name: str | Path) -> Path:
    """``name`` inside the workspace (an absolute ``name`` is returned unchanged)."""
    return root() / name


def bundled(name: str = "") -> Path:
    """A file or folder of the template shipped inside the package (``ats/bundled``).

    Installed from a wheel these are package data; in a clone they are symlinks to the
    repository's own ``data/``, ``themes/``, ``custom_modules/`` and ``examples/``, so the
    path is resolved to what a clone has always used.
    """
    folder = resources.files("ats").joinpath("bundled")
    return Path(str(folder.joinpath(name) if name else folder)).resolve()
