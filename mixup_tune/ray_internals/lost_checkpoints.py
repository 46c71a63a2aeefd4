"""Repair Ray's saved experiment state when it names a trial checkpoint that is no longer in storage.

Ray Tune deletes a trial's older checkpoints as it registers new ones
(``CheckpointConfig(num_to_keep)``), and saves its experiment state, the file
``Tuner.restore`` reads, a moment later: it forces a snapshot once a trial has
checkpointed ``num_to_keep`` times since the last one, and uploads it on a
background thread. A driver killed in between (``kill -9``, a lost head node)
leaves a saved state whose latest checkpoint for a trial was deleted, and the
trial's restore fails with Ray's "Could not recover from checkpoint as it does
not exist on storage anymore". CI saw it once, in the ``kill -9`` resume
test, whose trials checkpoint every 0.5 s.

The checkpoints that replaced it are still there. Each one the dead driver
registered has its result, with its ``checkpoint_dir_name``, in the trial's
``result.json`` (the driver writes a result only after the worker has
persisted its checkpoint), so the newest of those is a whole checkpoint at an
epoch MLflow already holds. The trial is pointed at it; the record logs none
of the epochs it reports again (``SweepRecord``: an epoch is logged once). With
none left, the trial starts over, which its seeded generators make the same
trial.

The state is read and written with Ray's own serialisers, as Ray's
``TuneController`` does, on Ray's filesystem for the storage (local or cloud).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from .experiment_state import newest_saved_state


@dataclass(frozen=True)
class Repair:
    """One trial pointed at another checkpoint: ``found`` is the checkpoint's directory name, or None when
    none was left and the trial starts over."""

    trial_id: str
    lost: str
    found: str | None
    epoch: int | None

    def __str__(self) -> str:
        then = f"resumes from {self.found} (epoch {self.epoch})" if self.found else "starts over (none left)"
        return (
            f"trial {self.trial_id}: its checkpoint {self.lost} was deleted before Ray saved the state "
            f"that still names it; it {then}"
        )


def repair_lost_checkpoints(experiment_dir: str, checkpoint_file: str) -> list[Repair]:
    """Point each unfinished trial whose saved latest checkpoint is gone at the newest one its dead driver
    registered, rewriting Ray's newest experiment-state file in place; return what was repaired (nothing,
    and the file untouched, when every checkpoint is there)."""
    saved = newest_saved_state(experiment_dir)
    if saved is None:
        return []
    trial_data = saved.content["trial_data"]
    repairs = []
    for index, (state_json, runtime_json) in enumerate(trial_data):
        repaired = _repaired_trial(
            saved.filesystem, saved.experiment_path, state_json, runtime_json, checkpoint_file
        )
        if repaired is not None:
            trial_data[index], repair = repaired
            repairs.append(repair)
    if repairs:
        # written beside it, then moved over it: a reader never sees half a state
        partial = f"{saved.experiment_path}/.experiment_state.repairing"
        with saved.filesystem.open_output_stream(partial) as stream:
            stream.write(json.dumps(saved.content).encode())
        saved.filesystem.move(partial, saved.file)
    return repairs


def _repaired_trial(
    filesystem: Any, experiment_path: str, state_json: str, runtime_json: str, checkpoint_file: str
) -> tuple[list[str], Repair] | None:
    """The trial's two saved JSON texts with its checkpoints repaired, or None when it needs nothing."""
    from ray.train import Checkpoint
    from ray.train._internal.session import _TrainingResult
    from ray.tune.trainable.metadata import _TrainingRunMetadata
    from ray.tune.utils.serialization import TuneFunctionEncoder, _loads_with_cloudpickle

    state = _loads_with_cloudpickle(state_json)
    if state["status"] == "TERMINATED":  # restore leaves it alone
        return None
    metadata = _TrainingRunMetadata.from_json_state(runtime_json)
    manager = metadata.checkpoint_manager
    latest = None if manager is None else manager.latest_checkpoint_result
    if manager is None or latest is None or latest.checkpoint is None:
        return None
    saved = latest.checkpoint
    storage = state["storage"]
    # where the trial is now: the experiment may have moved since (Ray maps its saved paths the same way)
    trial_path = f"{experiment_path}/{storage.trial_dir_name}"
    lost = saved.path.rsplit("/", 1)[-1]
    if _holds_checkpoint(filesystem, trial_path, lost, checkpoint_file):
        return None

    saved_dir = saved.path.rsplit("/", 1)[0]  # in the saved layout, as Ray's other paths are
    registered = [
        _TrainingResult(checkpoint=Checkpoint(f"{saved_dir}/{name}", saved.filesystem), metrics=result)
        for name, result in _checkpointed_results(filesystem, trial_path)
        if _holds_checkpoint(filesystem, trial_path, name, checkpoint_file)
    ]
    found = registered[-1] if registered else None
    # all of them: Ray deletes those over num_to_keep when the trial registers its next checkpoint
    manager._checkpoint_results = registered
    manager._latest_checkpoint_result = found
    metadata.invalidate_cache()
    found_name = found.metrics["checkpoint_dir_name"] if found else None
    # the trial's next checkpoint is numbered after the one it resumes from, as Ray numbers them
    storage.current_checkpoint_index = int(found_name.rsplit("_", 1)[-1]) if found_name else -1
    repair = Repair(state["trial_id"], lost, found_name, int(found.metrics["epoch"]) if found else None)
    return [json.dumps(state, indent=2, cls=TuneFunctionEncoder), metadata.get_json_state()], repair


def _holds_checkpoint(filesystem: Any, trial_path: str, name: str, checkpoint_file: str) -> bool:
    """Whether the trial's checkpoint directory ``name`` holds its ``checkpoint_file`` (a directory Ray had
    begun to delete may not)."""
    from pyarrow.fs import FileType

    return bool(filesystem.get_file_info(f"{trial_path}/{name}/{checkpoint_file}").type == FileType.File)


def _checkpointed_results(filesystem: Any, trial_path: str) -> list[tuple[str, dict[str, Any]]]:
    """The trial's results that came with a checkpoint, oldest first, from Ray's ``result.json`` (a line the
    dead driver left half-written is skipped)."""
    try:
        with filesystem.open_input_stream(f"{trial_path}/result.json") as stream:
            lines = stream.readall().decode().splitlines()
    except FileNotFoundError:
        return []
    # by name, the last result wins: a trial restored before writes its checkpoints' names again
    results: dict[str, dict[str, Any]] = {}
    for line in lines:
        try:
            result = json.loads(line)
        except json.JSONDecodeError:
            continue
        name = result.get("checkpoint_dir_name")
        if name:
            results.pop(name, None)
            results[name] = result
    return list(results.items())


def warn_of(repairs: list[Repair]) -> None:
    for repair in repairs:
        print(f"mixup-tune: warning: {repair}", file=sys.stderr)
