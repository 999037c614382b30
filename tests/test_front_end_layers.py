"""Import rules for the read model's two ends (issue 13).

- ``ats/ui`` keeps job ids and formats views: it imports nothing from ``ats.exchanges``,
  and no ``TradingJob`` at run time. Only its composition roots (``app.py``, which
  builds the in-process JobControl, and ``launch.py``, which wires persistence) may
  import the JobManager. Loaded without them, the console's screens and widgets do not
  load the engine at all: what ``ats attach`` will run against a remote job manager.
- ``ats/data`` (candle files, timeframes, the candle cache) is a low layer: exchanges,
  strategies and research import it, it imports none of them. The downloader is the one
  exception: it is a ccxt client, so it may use the exchanges' ccxt support.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ats

ROOT = Path(ats.__file__).parent
UI_ROOTS = {"ui/app.py", "ui/launch.py"}
"""The console's composition roots: they build the JobManager and its JobControl."""
DATA_CLIENTS = {"data/downloader.py": {"ats.exchanges"}}
DATA_FORBIDDEN = (
    "ats.exchanges",
    "ats.trading_job",
    "ats.strategies",
    "ats.indicators",
    "ats.database",
    "ats.persistence",
    "ats.state",
    "ats.research",
    "ats.headless",
    "ats.ui",
    "ats.cli",
)


def _imports(path: Path, *, runtime_only: bool) -> list[tuple[int, str]]:
    """(line, module) of every ``import``/``from`` in ``path``; without the ones under
    ``if TYPE_CHECKING:`` when ``runtime_only``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _modules(package: str) -> list[tuple[str, Path]]:
    return [(str(path.relative_to(ROOT)), path) for path in sorted((ROOT / package).rglob("*.py"))]


def _under(module: str, prefixes: tuple[str, ...] | set[str]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def test_the_ui_imports_no_exchange_and_no_trading_job() -> None:
    wrong = []
    for name, path in _modules("ui"):
        for line, module in _imports(path, runtime_only=False):
            if _under(module, ("ats.exchanges",)):
                wrong.append(f"{name}:{line} imports {module}")
        for line, module in _imports(path, runtime_only=True):
            if module.endswith(".TradingJob") or _under(module, ("ats.trading_job.trading_job",)):
                wrong.append(f"{name}:{line} imports {module} at run time")
            if name not in UI_ROOTS and _under(
                module, ("ats.trading_job.job_manager", "ats.trading_job.local_control")
            ):
                wrong.append(f"{name}:{line} imports {module} (only the app builds it)")
    assert not wrong, wrong


def test_the_console_screens_load_without_the_engine() -> None:
    modules = [
        "ats.ui." + name.removeprefix("ui/").removesuffix(".py").replace("/", ".")
        for name, _path in _modules("ui")
        if name not in UI_ROOTS and not name.endswith("__init__.py")
    ]
    engine = (
        "ats.trading_job.trading_job",
        "ats.trading_job.job_manager",
        "ats.trading_job.view_builder",
        "ats.exchanges.base_exchange",
        "ats.exchanges.exchanges",
        "ats.strategies",
        "ats.indicators",
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({engine!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert len(modules) > 15 and result.stdout.strip() == "[]", result.stdout


def test_data_is_a_low_layer() -> None:
    wrong = []
    for name, path in _modules("data"):
        allowed = DATA_CLIENTS.get(name, set())
        for line, module in _imports(path, runtime_only=False):
            if _under(module, DATA_FORBIDDEN) and not _under(module, allowed):
                wrong.append(f"{name}:{line} imports {module}")
    assert not wrong, wrong


LOGGING_CALLS = {"exception", "error", "warning", "info", "debug", "log"}


def _broad(node: ast.expr | None) -> bool:
    if node is None:
        return True
    if isinstance(node, ast.Tuple):
        return any(_broad(item) for item in node.elts)
    return isinstance(node, ast.Name) and node.id in {"Exception", "BaseException"}


def _logs_or_raises(handler: ast.ExceptHandler) -> bool:
    for node in (child for statement in handler.body for child in ast.walk(statement)):
        if isinstance(node, ast.Raise):
            return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOGGING_CALLS
        ):
            return True
    return False


def test_broad_excepts_in_the_ui_log_what_they_caught() -> None:
    """A view or command that fails is logged (and shown as a marker or notification),
    never swallowed into a blank pane: every broad ``except`` in ats/ui re-raises or
    logs; ``contextlib.suppress(Exception)`` is not used there at all."""
    silent = []
    for name, path in _modules("ui"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler) and _broad(node.type):
                if not _logs_or_raises(node):
                    silent.append(f"{name}:{node.lineno}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "suppress"
                and any(_broad(arg) for arg in node.args)
            ):
                silent.append(f"{name}:{node.lineno} suppress")
    assert not silent, silent
