"""MLflow tag names: what the driver tags a sweep's runs with, and what the analysis reads back.

Runs are found by tags, never by an in-memory map, so that a restarted or
resumed driver reopens the runs it made before instead of duplicating them
(``store.find_runs``).
"""

from __future__ import annotations

SWEEP = "mixup_tune.sweep"  # the sweep name, on the parent and on every trial
ROLE = "mixup_tune.role"  # "parent" or "trial"
STUDY = "mixup_tune.study"  # which analysis applies
TRIAL_ID = "mixup_tune.trial_id"  # a hash of the trial's config: stable across runs and restores
RAY_TRIAL_ID = "mixup_tune.ray_trial_id"  # Ray's id, for finding the trial in Ray's storage
CODE_VERSION = "mixup_tune.code_version"  # git commit (+ "-dirty"), or the package version
STORAGE = "mixup_tune.storage"  # Ray's experiment directory, for `resume`
OPTUNA_STORAGE = "mixup_tune.optuna_storage"  # on an Optuna sweep's parent: where its study is kept
ALGORITHM = "mixup_tune.algorithm"  # the sweep's search algorithm (grid, random or optuna), on the parent
# on the parent: what the sweep chose on, its chooser and validation split (mixup_tune.selection)
SELECTION = "mixup_tune.selection"
TRIALS = "mixup_tune.trials"  # on the parent: the sweep's trial count, finished ones included (for `status`)
LEASE = (
    "mixup_tune.lease"  # on a running sweep's parent: the driver that holds it and its heartbeat (lease.py)
)
LOG_MODELS = "mixup_tune.log_models"  # "true" when trials log their final weights (for `sync` to do the same)
ERROR = "mixup_tune.error"  # the last lines of a failed trial's traceback
ERROR_LINE = (
    "mixup_tune.error_line"  # what it failed of, in one line: "ConfigError: model: unknown model 'x'"
)
DIVERGED = "mixup_tune.diverged"  # "true" when the loss went NaN or infinite
NODE_IDS = (
    "mixup_tune.node_ids"  # the Ray nodes that ran the trial, in order (more than one after a node loss)
)
FAILURES = "mixup_tune.failures"  # attempts that failed and were retried by Ray (FailureConfig.max_failures)
INPUT_SHAPE = (
    "mixup_tune.input_shape"  # one example's shape as the model saw it, e.g. 1x28x28 (reported with epoch 1)
)
NORMALISATION = "mixup_tune.normalisation"  # how inputs were normalised (trainables.normalise)
# what the trial trained with, as tables and figures name it: a mixing method's display name, or ERM
MIXING = "mixup_tune.mixing"
# the plugins the sweep loaded, each "module (version or sha256 digest)"; their files are artifacts of the
# parent run (plugins/), as is this checkout's uncommitted diff when the code version is dirty (code.diff)
PLUGINS = "mixup_tune.plugins"
LABELS = "mixup_tune.labels"  # a csv or parquet dataset's class names, in the order of their indices
THREADS = "mixup_tune.threads"  # torch's intra-op threads in the trial (set from its CPU share)
LABEL_NOISE_PROTOCOL = "mixup_tune.label_noise_protocol"  # fraction or bernoulli, on trials with label noise
SURROGATE = "mixup_tune.surrogate"  # "true" on the black-box surrogate's run
GIT_COMMIT = "mlflow.source.git.commit"  # shown by the MLflow UI
# On the experiment: MLflow 3's UI opens an experiment of this kind on its training runs, not on the GenAI
# overview (traces, latency, tokens) it shows an experiment of no kind
EXPERIMENT_KIND, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
PARENT_RUN = "mlflow.parentRunId"  # MLflow's own nesting tag
