"""Evaluations of a user's own on the unmixed test set, by name: ``@register_metric``.

A metric is a function of the model's logits on the whole test set (fp32, eval mode) and the true labels,
returning a number. A trial computes the metrics its ``metrics`` option names, every epoch or only after
the last, and reports each as ``metric/<name>``: the records log every such key as an MLflow metric, with
step = epoch::

    @register_metric("top2_error")
    def top2_error(logits, labels):
        return 100.0 * float((logits.topk(2, dim=1).indices != labels[:, None]).all(1).float().mean())
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from .registry import Registry

PREFIX = "metric/"  # what a trial's result keys for these start with (records.names.METRIC_PREFIX)
MetricFunction = Callable[[Tensor, Tensor], float]
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Metric:
    name: str
    compute: MetricFunction  # (logits (N, classes), labels (N,)) -> a number
    every_epoch: bool = True  # False: after the last epoch only (for a costly one)


METRICS: Registry[Metric] = Registry("metric")
metric_names = METRICS.names


def register_metric(name: str, every_epoch: bool = True) -> Callable[[MetricFunction], MetricFunction]:
    """Decorator: ``@register_metric("top2_error")`` on ``f(logits, labels) -> float``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"metric name {name!r}: letters, digits, '_', '.' and '-', starting with a letter")

    def add(function: MetricFunction) -> MetricFunction:
        if not callable(function):
            raise TypeError(f"metric {name!r}: {function!r} is not callable")
        taken = METRICS[name].compute if name in METRICS else None
        if taken is not None and (taken.__module__, taken.__qualname__) != (
            function.__module__,
            function.__qualname__,
        ):
            raise ValueError(f"metric {name!r} is taken by {taken.__module__}.{taken.__qualname__}")
        METRICS.register(name)(Metric(name, function, every_epoch))
        return function

    return add


def evaluate_metrics(
    names: tuple[str, ...], logits: Tensor, labels: Tensor, last_epoch: bool
) -> dict[str, float]:
    """The named metrics due now (every epoch, or after the last), as ``metric/<name>`` result keys."""
    values = {}
    for name in names:
        metric = METRICS[name]
        if metric.every_epoch or last_epoch:
            values[f"{PREFIX}{name}"] = float(metric.compute(logits, labels))
    return values
