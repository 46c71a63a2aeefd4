"""The paper's studies, one module each, found by name in a registry: ``get_study(name)(context)`` writes a study's tables,
figures and report section.

Importing this package imports every study module, which registers each; none
of them imports torch at import time (in_between loads its models' code when
it renders), so reading runs stays light.
"""

from . import adversarial, bias_variance, cifar, gan, imagenet, in_between, label_noise, speech, uci, variants  # noqa: F401  (they register themselves)
from ._registry import HistoryLoader, Render, StudyContext, get_study, list_studies, register_study

__all__ = ["HistoryLoader", "Render", "StudyContext", "get_study", "list_studies", "register_study"]
