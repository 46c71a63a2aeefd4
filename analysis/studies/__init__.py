"""The paper's studies, one module each, found by name in a registry: ``get_study(name)(context)`` writes a
study's tables,
figures and report section.

A new study is a module here with ``@register_study("name")`` on a
``render(context: StudyContext) -> StudyOutput``, imported below (the import
registers it), and its name in ``mixup_tune.spec.STUDIES`` so that a sweep
file may name it.

Importing this package imports every study module; none of them imports torch
at import time (in_between loads its models' code when it renders), so reading
runs stays light.
"""

from . import (  # noqa: F401  (they register themselves)
    adversarial,
    bias_variance,
    cifar,
    gan,
    imagenet,
    in_between,
    label_noise,
    regularisers,
    speech,
    uci,
    variants,
)
from ._registry import HistoryLoader, Render, StudyContext, get_study, list_studies, register_study

__all__ = ["HistoryLoader", "Render", "StudyContext", "get_study", "list_studies", "register_study"]
