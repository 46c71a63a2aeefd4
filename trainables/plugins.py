"""A researcher's own code, imported so that it registers: mixing methods, models, datasets (plugins).

A plugin is a module name (``mypkg.methods``, importable where the trial runs) or a path to a ``.py`` file.
Importing it runs its ``@register_*`` decorators; nothing else is asked of it. Installed packages may
list theirs in the ``mixup_tune.plugins`` entry-point group, loaded by ``entry_point_plugins``.

What a plugin was (its module, and its distribution's version or its file's digest) is returned, for the
records: a result is only as reproducible as the code that produced it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import TrainConfig

ENTRY_POINT_GROUP = "mixup_tune.plugins"


class PluginError(ImportError):
    """A plugin that cannot be found or imported; the message is one line naming it."""


@dataclass(frozen=True)
class Plugin:
    spec: str  # as given: a module name or a .py path
    module: str  # the imported module's name
    version: str  # the installed distribution's version, or "sha256:<16 hex digits>" of the file
    files: tuple[str, ...]  # its source file(s)
    # what a Ray worker needs shipped to import it (its .py file, or its package's folder); None where it
    # is installed (a distribution), which every node's environment must then have
    shipped: str | None = None

    def describe(self) -> str:
        return f"{self.module} ({self.version})"


_LOADED: dict[str, Plugin] = {}  # module name -> the plugin, for every plugin this process imported


def load_plugins(specs: list[str] | tuple[str, ...]) -> list[Plugin]:
    """Import each plugin once (again is a no-op), in order; raise PluginError for the first that fails."""
    return [load_plugin(spec) for spec in specs]


def loaded_plugins() -> list[Plugin]:
    """Every plugin this process has imported, in the order it did."""
    return list(_LOADED.values())


def load_plugin(spec: str) -> Plugin:
    plugin = _import(spec)
    _LOADED.setdefault(plugin.module, plugin)
    return plugin


def is_file_plugin(spec: str) -> bool:
    """Whether ``spec`` names a .py file (a path) rather than a module."""
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def _import(spec: str) -> Plugin:
    if is_file_plugin(spec):
        return _load_file(Path(spec).expanduser())
    try:
        module = importlib.import_module(spec)
    except ModuleNotFoundError as error:
        if error.name and spec.startswith(error.name):
            raise PluginError(
                f"plugin {spec!r}: no module named {error.name!r} (install it, or give a .py path)"
            ) from None
        raise PluginError(f"plugin {spec!r}: {_where(error)}") from None
    except Exception as error:
        raise PluginError(f"plugin {spec!r}: {_where(error)}") from None
    source = getattr(module, "__file__", None)
    version = _version(module.__name__, source)
    files = _sources(module)
    installed = not version.startswith("sha256:")
    return Plugin(spec, module.__name__, version, files, None if installed else _shipped(module.__name__))


def _load_file(path: Path) -> Plugin:
    """A .py file imported as a module named after it, as ``import`` would if its folder were on the path."""
    if not path.is_file():
        raise PluginError(f"plugin {str(path)!r}: no such file")
    path = path.resolve()
    name = path.stem
    if not name.isidentifier():
        raise PluginError(f"plugin {str(path)!r}: its name must be a Python identifier to import it")
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").resolve() != path:
            raise PluginError(
                f"plugin {str(path)!r}: a module named {name!r} is already imported from elsewhere"
            )
        return Plugin(str(path), name, _digest(path), (str(path),), str(path))
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException as error:
        del sys.modules[name]  # a later import tries again, rather than finding half a module
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        raise PluginError(f"plugin {str(path)!r}: {_where(error)}") from None
    return Plugin(str(path), name, _digest(path), (str(path),), str(path))


def provenance(config: TrainConfig) -> dict[str, str]:
    """The loaded plugins a trial of ``config`` runs code of (its mixing method, model or dataset), as
    ``{module: version or digest}``; {} for a trial of built-ins only (which imports no registry)."""
    from .catalogue import DATASETS, MODELS
    from .config import BUILTIN_MIX_METHODS

    if not _LOADED:
        return {}
    used: list[str] = []
    if config.mix_method_name not in BUILTIN_MIX_METHODS:
        from .mixing import MIX_METHODS

        used.append(MIX_METHODS[config.mix_method_name].__module__)
    if ":" in config.model:  # an import string: its module
        used.append(config.model.partition(":")[0])
    elif config.model in MODELS and not MODELS.is_builtin(config.model):
        used.append(getattr(MODELS[config.model], "__module__", ""))
    if not DATASETS.is_builtin(config.dataset):
        used.append(getattr(DATASETS[config.dataset], "__module__", ""))
    if config.metrics:
        from .metrics import METRICS

        used += [METRICS[name].compute.__module__ for name in config.metrics]
    found = {}
    for module in used:
        for plugin in _LOADED.values():
            if module == plugin.module or module.startswith(f"{plugin.module}."):
                found[plugin.module] = plugin.version
    return dict(sorted(found.items()))


def entry_point_plugins() -> list[str]:
    """The modules installed packages list in the ``mixup_tune.plugins`` entry-point group."""
    return sorted({entry.module for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})


def _where(error: BaseException) -> str:
    """The error as one line, with the plugin's own line where the traceback has one."""
    text = str(error).splitlines()[0] if str(error) else ""
    line = ""
    if isinstance(error, SyntaxError) and error.lineno:
        text, line = error.msg, f" ({Path(error.filename or '').name}, line {error.lineno})"
    else:
        frames = traceback.extract_tb(error.__traceback__)
        if frames:
            line = f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})"
    return f"{type(error).__name__}: {text}{line}" if text else f"{type(error).__name__}{line}"


def _digest(*paths: Path) -> str:
    hashed = hashlib.sha256()
    for path in paths:
        hashed.update(path.read_bytes())
    return "sha256:" + hashed.hexdigest()[:16]


def _sources(module: ModuleType) -> tuple[str, ...]:
    """A module's source file, or every .py file of its top-level package, sorted."""
    top = sys.modules[module.__name__.split(".")[0]]
    folders = list(getattr(top, "__path__", []))
    if folders:
        return tuple(sorted(str(path) for folder in folders for path in Path(folder).rglob("*.py")))
    source = getattr(module, "__file__", None)
    return (source,) if source else ()


def _shipped(module: str) -> str | None:
    """What to ship for a module that is not installed: its top-level package's folder, or its file."""
    top = sys.modules[module.split(".")[0]]
    folders = list(getattr(top, "__path__", []))
    return folders[0] if len(folders) == 1 else getattr(top, "__file__", None)


def _version(module: str, source: str | None) -> str:
    top = module.split(".")[0]
    distributions = importlib.metadata.packages_distributions().get(top, [])
    for distribution in distributions:
        try:
            return f"{distribution} {importlib.metadata.version(distribution)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    files = _sources(sys.modules[module])
    return _digest(*map(Path, files)) if files else "unknown"
