"""The study registry: a study's name (the sweep's ``tags.STUDY``) -> the function that writes its section of
the report.

Every study renders from one ``StudyContext`` and returns one ``StudyOutput``.
A study module registers itself with ``@register_study(name)``; this module
sits below the study modules and imports none of them (``studies/__init__.py``
imports them, which is what fills the registry), in the style of timm's
``models/_registry.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..render import StudyOutput
from ..runs import load_history

# (run ids, metrics) -> one row per run and epoch
HistoryLoader = Callable[[list[str], tuple[str, ...]], pd.DataFrame]


@dataclass(frozen=True)
class StudyContext:
    """What a study's analysis reads: the sweep's runs, where to write, and the store for anything more."""

    sweep: str
    runs: pd.DataFrame  # one row per trial, as ``load_runs`` gives them
    out: Path  # the folder the study writes its tables and figures to
    tracking_uri: str
    # Per-epoch history of the runs given: a study reads only the runs it plots,
    # since over a tracking server a thousand-run sweep's every history takes a minute.
    history: HistoryLoader

    @classmethod
    def of(cls, sweep: str, runs: pd.DataFrame, out: Path, tracking_uri: str) -> StudyContext:
        """The context of a sweep in a tracking store, its history read through ``load_history``."""

        def history(run_ids: list[str], metrics: tuple[str, ...]) -> pd.DataFrame:
            return load_history(sweep, tracking_uri, metrics, run_ids)

        return cls(sweep, runs, out, tracking_uri, history)


Render = Callable[[StudyContext], StudyOutput]

_STUDIES: dict[str, Render] = {}


def register_study(name: str) -> Callable[[Render], Render]:
    """Decorator: ``render`` writes the report section of sweeps whose study tag is ``name``."""

    def register(render: Render) -> Render:
        if name in _STUDIES:
            raise ValueError(
                f"study {name!r} is registered twice: {_STUDIES[name].__module__} and {render.__module__}"
            )
        _STUDIES[name] = render
        return render

    return register


def get_study(name: str) -> Render | None:
    """The render function of the study ``name``; None for a name no study registered."""
    return _STUDIES.get(name)


def list_studies() -> list[str]:
    """The registered studies' names, sorted."""
    return sorted(_STUDIES)
