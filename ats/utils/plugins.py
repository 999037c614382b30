"""Plugin resolution: ``custom_modules/<kind>/`` first, then the built-ins.

Layout (see ARCHITECTURE.md):
- exchanges:  custom_modules/exchanges/<name>.py            class ``Exchange``
- strategies: custom_modules/strategies/<name>/strategy.py  class ``Strategy``
- indicators: custom_modules/indicators/<name>.py           one BaseIndicator subclass
- fees:       custom_modules/fees/<name>.py                 one BaseFees subclass

Names must match ``[a-z0-9_]+`` so no path can escape the plugin folder. A broken custom
module raises one PluginError naming its file; other plugins are unaffected. Errors a
plugin raises later, from its constructor or a strategy's ``setup()``, are turned into
one line naming the plugin's file and line by :func:`plugin_code`.

The custom folder is ``ATS_CUSTOM_MODULES_DIR`` (environment or ``.env``), by default
``./custom_modules``, for every command.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from ats.exceptions import ATSError, PluginError, UnknownPlugin
from ats.utils.validation import one_line

if TYPE_CHECKING:
    from ats.exchanges.base_exchange import BaseExchange
    from ats.exchanges.base_fees import BaseFees
    from ats.indicators.base_indicator import BaseIndicator
    from ats.strategies.base_strategy import BaseStrategy

PluginKindName = Literal["exchanges", "strategies", "indicators", "fees"]
_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True)
class PluginKind:
    kind: PluginKindName
    base_path: str
    """``module:Class`` of the base class every plugin of this kind must subclass."""
    builtin_package: str
    custom_relative: str
    """Path of a custom module under custom_modules/<kind>/, with ``{name}``."""
    builtin_relative: str
    """Module under the built-in package, with ``{name}``."""
    class_name: str | None
    """Required class name, or None for 'the one subclass of the base defined here'."""

    @property
    def base(self) -> type:
        module_name, _, class_name = self.base_path.partition(":")
        base: type = getattr(importlib.import_module(module_name), class_name)
        return base


KINDS: dict[str, PluginKind] = {
    "exchanges": PluginKind(
        "exchanges",
        "ats.exchanges.base_exchange:BaseExchange",
        "ats.exchanges.exchanges",
        "{name}.py",
        "{name}.exchange",
        "Exchange",
    ),
    "strategies": PluginKind(
        "strategies",
        "ats.strategies.base_strategy:BaseStrategy",
        "ats.strategies",
        "{name}/strategy.py",
        "{name}.strategy",
        "Strategy",
    ),
    "indicators": PluginKind(
        "indicators",
        "ats.indicators.base_indicator:BaseIndicator",
        "ats.indicators",
        "{name}.py",
        "{name}",
        None,
    ),
    "fees": PluginKind(
        "fees",
        "ats.exchanges.base_fees:BaseFees",
        "ats.exchanges.fees",
        "{name}.py",
        "{name}",
        None,
    ),
}


_SINGULAR = {
    "exchanges": "exchange",
    "strategies": "strategy",
    "indicators": "indicator",
    "fees": "fee model",
}


def parse_namespace(namespace: str) -> tuple[str, str]:
    """``"strategies:sma_cross"`` -> ``("strategies", "sma_cross")``."""
    kind, sep, name = namespace.partition(":")
    if not sep:
        raise PluginError(f"plugin namespace must look like KIND:NAME, got {namespace!r}")
    return kind, name


class PluginLoader:
    """Finds, imports, validates and caches plugin classes."""

    def __init__(self, custom_root: Path | str | None = None) -> None:
        self._custom_root = None if custom_root is None else Path(custom_root)
        self._cache: dict[tuple[str, str], type] = {}

    @property
    def custom_root(self) -> Path:
        """The custom modules folder; by default the settings' (read on first use, so
        importing this module never reads ``.env``)."""
        if self._custom_root is None:
            from ats.utils.settings import Settings

            self._custom_root = Settings().custom_modules_dir
        return self._custom_root

    def load(self, kind: str, name: str, *, reload: bool = False) -> type:
        """The plugin class; ``reload`` re-imports the module (strategy hot reload)."""
        spec = self._kind(kind)
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(f"{kind}: invalid plugin name {name!r} (use [a-z0-9_]+)")
        key = (kind, name)
        if not reload and key in self._cache:
            return self._cache[key]
        custom_file = self.custom_root / kind / spec.custom_relative.format(name=name)
        if custom_file.is_file():
            module = self._import_file(spec, name, custom_file)
            origin = str(custom_file)
        else:
            module = self._import_builtin(spec, name, reload=reload)
            origin = module.__file__ or module.__name__
        plugin = self._find_class(spec, module, origin)
        self._cache[key] = plugin
        return plugin

    def exchange_class(self, name: str) -> type[BaseExchange]:
        return self.load("exchanges", name)

    def strategy_class(self, name: str, *, reload: bool = False) -> type[BaseStrategy]:
        return self.load("strategies", name, reload=reload)

    def fees_class(self, name: str) -> type[BaseFees]:
        return self.load("fees", name)

    def indicator_class(self, name: str) -> type[BaseIndicator]:
        return self.load("indicators", name)

    def available(self, kind: str) -> dict[str, str | None]:
        """Every plugin name of ``kind`` -> None if it loads, else its one-line error."""
        spec = self._kind(kind)
        names = set(self._builtin_names(spec)) | set(self._custom_names(spec))
        result: dict[str, str | None] = {}
        for name in sorted(names):
            try:
                self.load(kind, name)
                result[name] = None
            except PluginError as exc:
                result[name] = str(exc)
        return result

    def is_custom(self, kind: str, name: str) -> bool:
        spec = self._kind(kind)
        return (self.custom_root / kind / spec.custom_relative.format(name=name)).is_file()

    # -- internals -----------------------------------------------------------------------
    @staticmethod
    def _kind(kind: str) -> PluginKind:
        try:
            return KINDS[kind]
        except KeyError:
            raise PluginError(
                f"unknown plugin kind {kind!r} (choose from {', '.join(KINDS)})"
            ) from None

    def _import_file(self, spec: PluginKind, name: str, path: Path) -> ModuleType:
        module_name = f"ats_custom_{spec.kind}_{name}"
        import_spec = importlib.util.spec_from_file_location(module_name, path)
        if import_spec is None or import_spec.loader is None:
            raise PluginError(f"{path}: cannot be imported")
        module = importlib.util.module_from_spec(import_spec)
        sys.modules[module_name] = module
        try:
            import_spec.loader.exec_module(module)
        except SyntaxError as exc:
            sys.modules.pop(module_name, None)
            raise PluginError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
        except Exception as exc:
            sys.modules.pop(module_name, None)
            line = _line_in(path, exc)
            raise PluginError(f"{path}{line}: import failed: {type(exc).__name__}: {exc}") from None
        return module

    @staticmethod
    def _import_builtin(spec: PluginKind, name: str, *, reload: bool) -> ModuleType:
        module_name = f"{spec.builtin_package}.{spec.builtin_relative.format(name=name)}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise UnknownPlugin(f"unknown {_SINGULAR[spec.kind]} {name!r}") from None
            raise PluginError(f"{module_name}: import failed: {exc}") from None
        return importlib.reload(module) if reload else module

    @staticmethod
    def _find_class(spec: PluginKind, module: ModuleType, origin: str) -> type:
        base = spec.base
        if spec.class_name is not None:
            plugin = getattr(module, spec.class_name, None)
            if plugin is None:
                raise PluginError(f"{origin}: no class named {spec.class_name}")
            if not (inspect.isclass(plugin) and issubclass(plugin, base)):
                raise PluginError(f"{origin}: {spec.class_name} must subclass {base.__name__}")
            return plugin
        candidates = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, base)
            and obj is not base
            and obj.__module__ == module.__name__
            and not inspect.isabstract(obj)
        ]
        if len(candidates) != 1:
            found = ", ".join(c.__name__ for c in candidates) or "none"
            raise PluginError(
                f"{origin}: expected exactly one {base.__name__} subclass, found {found}"
            )
        return candidates[0]

    @staticmethod
    def _builtin_names(spec: PluginKind) -> list[str]:
        package = importlib.import_module(spec.builtin_package)
        root = Path(package.__file__ or "").parent
        suffix = spec.builtin_relative.format(name="").lstrip(".")
        names = []
        for entry in root.iterdir():
            name = entry.stem if entry.suffix == ".py" else entry.name
            if not _NAME.match(name) or name.startswith("base_") or name == "__init__":
                continue
            is_package_plugin = bool(suffix) and (entry / f"{suffix}.py").is_file()
            is_module_plugin = not suffix and entry.suffix == ".py"
            if is_package_plugin or is_module_plugin:
                names.append(name)
        return names

    def _custom_names(self, spec: PluginKind) -> list[str]:
        folder = self.custom_root / spec.kind
        if not folder.is_dir():
            return []
        pattern = spec.custom_relative.format(name="*")
        return [
            path.relative_to(folder).parts[0].removesuffix(".py")
            for path in folder.glob(pattern)
            if _NAME.match(path.relative_to(folder).parts[0].removesuffix(".py"))
        ]


@contextlib.contextmanager
def plugin_code(section: str, plugin: type) -> Iterator[None]:
    """Run code of ``plugin`` (its constructor, a strategy's ``setup()``): an unexpected
    exception becomes one PluginError naming the config ``section``, the file, line and
    function it came from, e.g. ``strategy: custom_modules/strategies/x/strategy.py:9 in
    setup(): RuntimeError: boom``. ATS's own one-line errors pass through unchanged."""
    try:
        yield
    except ATSError:
        raise
    except Exception as exc:
        where = _origin(plugin, exc)
        raise PluginError(one_line(f"{section}: {where}{type(exc).__name__}: {exc}")) from None


def _origin(plugin: type, exc: BaseException) -> str:
    """``"file:line in function(): "`` of the innermost frame in the plugin's own file,
    else of the innermost frame (a built-in plugin's helper)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    try:
        plugin_file = inspect.getsourcefile(plugin)
    except TypeError:
        plugin_file = None
    own = [frame for frame in frames if plugin_file and _same_file(frame.filename, plugin_file)]
    frame = (own or frames)[-1]
    return f"{_short_path(frame.filename)}:{frame.lineno} in {frame.name}(): "


def _same_file(first: str, second: str) -> bool:
    return Path(first).resolve() == Path(second).resolve()


def _short_path(filename: str) -> str:
    """Relative to the working directory, else to the folder holding the ats package."""
    path = Path(filename).resolve()
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        with contextlib.suppress(ValueError):
            return str(path.relative_to(root))
    return filename


def _line_in(path: Path, exc: BaseException) -> str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename) == path:
            return f":{frame.lineno}"
    return ""


default_loader = PluginLoader()
"""Looks in the settings' custom folder (``ATS_CUSTOM_MODULES_DIR``)."""


def load_plugin(kind: str, name: str, *, reload: bool = False) -> Any:
    return default_loader.load(kind, name, reload=reload)
