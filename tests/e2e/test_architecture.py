"""Structure rules for ats/, in one place: import layers (import-linter's contracts in
pyproject.toml), the console loading no engine, module size, visible errors.

- persistence > journal > engine (trading_job > exchanges), none importing a front end;
- ``ats/ui`` keeps job ids and formats views: it imports nothing from ``ats.exchanges``
  and no ``TradingJob``. Only its composition roots (``app.py``, which builds the
  in-process JobControl, and ``launch.py``, which wires persistence) import the
  JobManager; loaded without them, the console's screens and widgets do not load the
  engine at all: what ``ats attach`` will run against a remote job manager;
- ``ats/data`` (candle files, timeframes, the candle cache) is a low layer: exchanges,
  strategies and research import it, it imports none of them (the downloader, a ccxt
  client, may use the exchanges' ccxt support).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import ats

ROOT = Path(ats.__file__).parent
REPO = ROOT.parent
MAX_LINES = 600
ONE_PIECE = "one piece"
"""A longer module's docstring says why it must be one piece, in these words."""


def test_imports_follow_the_layers() -> None:
    """The contracts in pyproject.toml ([tool.importlinter]): the layers above, the
    console's import rules and ats/data's."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a test dependency (pyproject.toml)"
    result = subprocess.run(
        [lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


UI_ROOTS = {"ui/app.py", "ui/launch.py"}
"""The console's composition roots: they build the JobManager and its JobControl."""


def test_the_console_screens_load_without_the_engine() -> None:
    """At run time, not only by the static import graph: every ui module but the
    composition roots imported in a fresh interpreter loads no engine module."""
    modules = [
        "ats." + name.removesuffix(".py").replace("/", ".")
        for name, _text in _modules()
        if name.startswith("ui/") and name not in UI_ROOTS and not name.endswith("__init__.py")
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


def test_ats_attach_loads_the_console_without_the_engine() -> None:
    """``ats attach`` runs the same AtsApp on a RemoteJobControl: neither the app nor the
    client pulls in jobs, exchanges, strategies or the view builder."""
    engine = (
        "ats.trading_job.trading_job",
        "ats.trading_job.job_manager",
        "ats.trading_job.local_control",
        "ats.trading_job.stop_deadline",
        "ats.trading_job.view_builder",
        "ats.exchanges.base_exchange",
        "ats.exchanges.exchanges",
        "ats.strategies",
        "ats.indicators",
    )
    code = (
        "import sys\n"
        "from ats.apis import attach\n"
        "from ats.apis.remote_control import RemoteJobControl\n"
        "from ats.ui.app import AtsApp\n"
        "from pathlib import Path\n"
        "app = AtsApp(control=RemoteJobControl(socket_file=Path('x')), settings_path=None)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({engine!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout


def _modules() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
        for path in sorted(ROOT.rglob("*.py"))
    ]


def test_no_module_is_over_600_lines_unless_it_says_why() -> None:
    too_long = {}
    for name, text in _modules():
        lines = text.count("\n")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if lines > MAX_LINES and ONE_PIECE not in docstring.lower():
            too_long[name] = lines
    assert not too_long, too_long


BROAD = {"Exception", "BaseException"}
LOGGING_CALLS = {"exception", "error", "warning", "info", "debug", "log", "_fail", "failure"}
"""A handler that calls one of these (``logger.exception``, ``job.log``, or any method
named ``*log*``, like ``_log_caught``) says what it caught; ``TradingJob._fail`` puts the
error in the job's log and the application log, and the view builder's ``failure`` logs
it once per job id."""
SILENT_BY_DESIGN = {
    # (module, function): why it neither narrows nor logs. Both run as the process ends
    # with os._exit, perhaps from the watchdog thread while the loop is stuck: a log
    # write could wait forever on a lock the stuck thread holds; the exit line says it.
    ("trading_job/watchdog.py", "_deadline_passed"),
    ("trading_job/stop_deadline.py", "_deadline_line"),
    ("trading_job/stop_deadline.py", "_exit"),
    ("persistence/persistent_jobs.py", "unsaved_jobs"),
    # Not caught: thrown on into the job's coroutine by the watchdog's stepping wrapper.
    ("trading_job/watchdog.py", "_stepped"),
}


def _is_broad(node: ast.expr | None) -> bool:
    if node is None:
        return True
    if isinstance(node, ast.Tuple):
        return any(_is_broad(item) for item in node.elts)
    return isinstance(node, ast.Name) and node.id in BROAD


def _says_or_raises(body: list[ast.stmt]) -> bool:
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Raise):
                return True
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else None
                if isinstance(func, ast.Name):
                    called = func.id
                if called is not None and (called in LOGGING_CALLS or "log" in called):
                    return True
    return False


def _silent_handlers(name: str, text: str) -> list[str]:
    """Broad ``except`` blocks (and ``suppress(Exception)``) that neither re-raise nor log,
    anywhere in the module (in a function, a class body or at module level)."""
    found: list[str] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if (name, node.name) in SILENT_BY_DESIGN:
                return
            function = node.name
        if isinstance(node, ast.ExceptHandler) and _is_broad(node.type):
            if not _says_or_raises(node.body):
                found.append(f"{name}:{node.lineno} in {function}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "suppress"
            and any(_is_broad(arg) for arg in node.args)
        ):
            found.append(f"{name}:{node.lineno} in {function}")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(text), "<module>")
    return found


def test_broad_excepts_narrow_or_log() -> None:
    """Errors are visible: a broad ``except`` anywhere in ats/ re-raises or logs what it
    caught (a view or command that fails in ats/ui is logged and shown as a marker or
    notification, never swallowed into a blank pane); ``contextlib.suppress(Exception)``
    is not used outside :data:`SILENT_BY_DESIGN`."""
    silent = [where for name, text in _modules() for where in _silent_handlers(name, text)]
    assert not silent, silent


REDACTION = {"redact", "redact_data", "scrub_config", "secrets_registered", "register_secret"}


def test_redaction_is_imported_from_one_place() -> None:
    """``redact`` and its helpers come from ats.utils.redaction only (ats.utils.settings
    no longer re-exports them): one path to grep when checking what masks secrets."""
    elsewhere = []
    for name, text in _modules():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module != "ats.utils.redaction":
                wrong = REDACTION & {alias.name for alias in node.names}
                if wrong and name != "utils/redaction.py":
                    elsewhere.append(f"{name}:{node.lineno} {node.module} {sorted(wrong)}")
    assert not elsewhere, elsewhere
