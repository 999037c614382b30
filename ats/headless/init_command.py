"""``ats init [DIR]``: make a workspace from the template bundled with the package.

Like Freqtrade's ``create-userdir`` and Jesse's ``make-project``: the example plugins
with their READMEs, the stock themes, the demo candles, the example job configs, an
empty ``saved_states/`` (owner-only) and ``.env.example``. Existing files are never
overwritten without ``--force``, and even then only the template's own files are (never
``saved_states/`` or ``.env``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ats import workspace

EXIT_OK, EXIT_USAGE = 0, 2
TEMPLATE_DIRS = (workspace.CUSTOM_MODULES, workspace.THEMES, workspace.DATA, "examples")
TEMPLATE_SUFFIXES = frozenset({".md", ".py", ".toml", ".csv", ".yaml"})
ENV_EXAMPLE = ".env.example"


def add_parser(subparsers: Any) -> None:
    init = subparsers.add_parser(
        "init",
        help="create a workspace (custom_modules/, themes/, data/, saved_states/, .env.example)",
    )
    init.add_argument(
        "directory",
        nargs="?",
        type=Path,
        metavar="DIR",
        help=f"where (default: ${workspace.HOME_ENV} if set, else the current directory)",
    )
    init.add_argument(
        "--force", action="store_true", help="overwrite the template's files if they exist"
    )


def template_files() -> dict[Path, Path]:
    """Workspace-relative path -> bundled source, for every file ``ats init`` writes."""
    files: dict[Path, Path] = {Path(ENV_EXAMPLE): workspace.bundled("env.example")}
    for name in TEMPLATE_DIRS:
        source = workspace.bundled(name)
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if (
                path.is_file()
                and path.suffix in TEMPLATE_SUFFIXES
                and "__pycache__" not in relative.parts
            ):
                files[Path(name) / relative] = path
    return files


def run(args: argparse.Namespace) -> int:
    target: Path = args.directory or Path(os.environ.get(workspace.HOME_ENV, "") or ".")
    target = target.expanduser()
    files = template_files()
    if target.exists() and not target.is_dir():
        return _refuse(f"{target} exists and is not a directory")
    existing = [relative for relative in files if (target / relative).exists()]
    if existing and not args.force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        return _refuse(
            f"{target / existing[0]} already exists{more}; nothing written "
            "(use --force to overwrite the template's files)"
        )
    for relative, source in files.items():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists() and destination.resolve() == source:
            continue  # a clone's own file (ats init --force in the clone)
        shutil.copyfile(source, destination)
    (target / workspace.SAVED_STATES).mkdir(mode=0o700, parents=True, exist_ok=True)
    shown = "." if target == Path() else str(target)
    print(f"ATS workspace ready in {target.resolve()}:")
    print("  custom_modules/  example strategy, indicator, fee model and exchange, with READMEs")
    print("  themes/          colour themes (add your own *.toml)")
    print("  data/            demo candles (BTC/USDT, 3 s, 2022-05-12)")
    print("  examples/        job configs: ats run examples/sma_cross_backtest.yaml --no-ui")
    print("  saved_states/    jobs and their journal (owner-only)")
    print(f"  {ENV_EXAMPLE}     settings and alerts; copy it to .env")
    where = "" if shown == "." else f"cd {shown} && "
    print(f"Next: {where}ats   (or set {workspace.HOME_ENV}={target.resolve()})")
    return EXIT_OK


def _refuse(message: str) -> int:
    print(f"ats: error: {message}", file=sys.stderr)
    return EXIT_USAGE
