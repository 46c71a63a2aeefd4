"""Section 3.5's black-box attack, as an evaluation phase after the sweep.

Adversarial examples (FGSM, I-FGSM) are crafted on the ERM surrogate, a trial of
the same sweep declared in the spec's ``black_box`` block, and every other
finished trial is evaluated on them. Models come from the trials' MLflow
artifacts (``model/model.pt``), so the phase works after a restart, across
nodes, and for trials finished by an earlier run of the sweep. Results are
logged into each target's own run as ``black_box_*`` metrics; a target that
already has them is skipped, so the phase can be run again safely.
"""

from __future__ import annotations

import time

from mlflow.entities import Metric

from trainables.adversarial import attack_errors, craft

from .records import SweepRecord, load_trained, tags, trial_key
from .search import surrogate_point
from .spec import SweepSpec


def evaluate_black_box(record: SweepRecord, spec: SweepSpec) -> int:
    """Attack every finished target with the surrogate's examples; return how many targets were evaluated."""
    assert spec.black_box is not None
    client = record.client
    surrogate_key = trial_key(surrogate_point(spec) or {})
    runs = record.finished_runs()
    surrogates = [run for run in runs if run.data.tags.get(tags.TRIAL_ID) == surrogate_key]
    if not surrogates:
        return 0
    surrogate = surrogates[0]
    client.set_tag(surrogate.info.run_id, tags.SURROGATE, "true")
    targets = [
        run
        for run in runs
        if run is not surrogate
        and "black_box_fgsm_error" not in run.data.metrics
        and run.data.tags.get(tags.DIVERGED) != "true"
    ]
    if not targets:
        return 0
    source = load_trained(client, surrogate.info.run_id)
    epsilon = spec.black_box.epsilon or source.config.adversarial_epsilon
    x, y = source.attack_subset()
    examples = craft(source.forward_unit_range, x, y, epsilon)
    for run in targets:
        target = load_trained(client, run.info.run_id)
        moved = {name: batch.to(target.device) for name, batch in examples.items()}
        metrics = attack_errors(
            target.forward_unit_range, moved, y.to(target.device), target.num_classes, prefix="black_box"
        )
        metrics["black_box_epsilon"] = epsilon
        timestamp = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(name, value, timestamp, target.config.epochs) for name, value in metrics.items()],
        )
    return len(targets)
