"""``mixup-tune check NAME``: one line per check of a mixing method (``trainables.conformance``), exit 1
if any fails; exit 2, in one line, for a method or plugin that cannot be loaded."""

from __future__ import annotations

import sys
import time

import yaml

EXIT_FAILED, EXIT_USAGE = 1, 2


def check_command(method: str | None, plugins: list[str], options: list[str], list_only: bool) -> int:
    from trainables import ConfigError
    from trainables.conformance import check_method
    from trainables.mixing import MIX_METHODS
    from trainables.plugins import PluginError, entry_point_plugins, load_plugins

    try:
        loaded = load_plugins([*entry_point_plugins(), *plugins])
        if list_only or method is None:
            rows = [
                (name, MIX_METHODS[name].display_name, MIX_METHODS[name].__module__)
                for name in MIX_METHODS.names()
            ]
            widths = [max(len(row[i]) for row in rows) for i in range(2)]
            for name, display, module in rows:
                print(f"{name:<{widths[0]}}  {display:<{widths[1]}}  {module}")
            return 0 if list_only else _usage("name a method to check (--list names them)")
        values = dict(_option(text) for text in options)
        started = time.perf_counter()
        cls, checks = check_method(method, **values)
    except (PluginError, ConfigError, ValueError) as error:
        return _usage(str(error))
    source = next((p for p in loaded if p.module == cls.__module__), None)
    origin = f"plugin {source.spec}, {source.version}" if source else cls.__module__
    print(f"mixup-tune check {method}: {cls.display_name} ({origin})")
    for check in checks:
        print(check.line())
    failed = [check.name for check in checks if check.passed is False]
    took = time.perf_counter() - started
    print(
        f"{len(checks) - len(failed)} of {len(checks)} checks passed in {took:.1f} s"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return EXIT_FAILED if failed else 0


def _option(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--set {text!r}: expected KEY=VALUE")
    try:
        return key, yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ValueError(f"--set {key}: cannot parse value {raw!r}") from None


def _usage(message: str) -> int:
    print(f"mixup-tune: error: {message}", file=sys.stderr)
    return EXIT_USAGE
