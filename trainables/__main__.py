"""Run one trial alone, e.g. on a GPU machine that has only torch:

    python -m trainables alpha=1 label_noise=0.4 dataset=cifar10 model=preact_resnet18 epochs=200

Options are ``key=value`` with dotted keys for nested ones (``optimizer.lr=0.05``);
values are read as JSON where they parse, else as strings. One JSON line per epoch.
"""

from __future__ import annotations

import json
import sys

from .config import TrainConfig
from .errors import ConfigError, DatasetError
from .tasks import train


def parse_options(args: list[str]) -> dict[str, object]:
    options: dict[str, object] = {}
    for arg in args:
        key, sep, raw = arg.partition("=")
        if not sep:
            raise ConfigError(arg, "expected key=value")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


def main(argv: list[str] | None = None) -> int:
    try:
        config = TrainConfig.from_dict(parse_options(sys.argv[1:] if argv is None else argv))
        train(config, on_epoch=lambda metrics, _checkpoint: print(json.dumps(metrics), flush=True))
    except (ConfigError, DatasetError, TypeError) as error:
        print(f"trainables: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
