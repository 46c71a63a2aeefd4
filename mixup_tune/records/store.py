"""Reaching the tracking store, finding a sweep's runs in it by their tags, and what identifies a trial:
its key, its params, the code that ran it. Needs MLflow only (no Ray), for analysis too."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from mlflow.entities import Param, RunTag
from mlflow.tracking import MlflowClient

from trainables import TrainConfig
from trainables.config import PLUGIN_VERSIONS, OptionGroup, flatten
from trainables.errors import first_line
from trainables.plugins import provenance

from ..errors import UserError
from ..mlflow_internals import create_sqlite_store, read_runs
from . import tags


def default_tracking_uri() -> str:
    """``--tracking-uri`` wins, then $MLFLOW_TRACKING_URI, then ./mlflow.db (MLflow 3's default store)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"


def sqlite_file(uri: str) -> Path | None:
    """The database file of an ``sqlite:///`` URI (MLflow's store, or an Optuna study's); None for another
    store."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def configure_mlflow_client() -> None:
    """MLflow client settings for the driver; users can still set their own.

    A tracking server that dies mid-sweep must cost seconds, not minutes:
    MLflow's defaults are 7 retries with exponential back-off and a 120 s
    timeout per request, during which Tune's driver loop, and every trial's
    results, would wait. And one "View run at" line per trial would break up
    Ray's progress table (the summary says where the runs are).
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    # nor a progress bar for each small artifact read back (the spec, on `resume` and `status`)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def check_tracking(tracking_uri: str, timeout_s: float = 10.0) -> MlflowClient:
    """Fail in seconds, before anything runs, when the tracking store cannot be reached.

    A server is probed on its /health endpoint first: MLflow's own client
    retries a dead server with back-off for minutes before it gives up.
    """
    if tracking_uri.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as error:
            if error.code != 401:  # a server behind basic auth answers 401 here; the client below logs in
                raise UserError(
                    f"MLflow tracking server {tracking_uri} answered HTTP {error.code} on /health"
                ) from None
        except (OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise UserError(f"cannot reach MLflow tracking server {tracking_uri}: {reason}") from None
    # opening a database store can fail too: a path that cannot be created, a file that is not a database
    if (path := sqlite_file(tracking_uri)) is not None:
        create_sqlite_store(path)  # a new one copied from a migrated template: seconds faster
    try:
        client = MlflowClient(tracking_uri)
        client.search_experiments(max_results=1)
    except Exception as error:  # any failure here means no run could be recorded
        text = first_line(error, 200)
        if "401" in text or "403" in text:  # a server behind basic auth
            raise UserError(
                f"MLflow tracking server {tracking_uri} refused the credentials (set "
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)"
            ) from None
        raise UserError(f"cannot reach MLflow tracking store {tracking_uri}: {text}") from None
    return client


def _quote(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


def _sweep_filter(sweep: str, role: str, trial_id: str | None = None, status: str | None = None) -> str:
    """MLflow's search syntax for a sweep's runs of one role (and one trial, or one status)."""
    parts = [f"tags.`{tags.SWEEP}` = {_quote(sweep)}", f"tags.`{tags.ROLE}` = {_quote(role)}"]
    if trial_id is not None:
        parts.append(f"tags.`{tags.TRIAL_ID}` = {_quote(trial_id)}")
    if status is not None:
        parts.append(f"attributes.status = {_quote(status)}")
    return " and ".join(parts)


def find_runs(
    client: MlflowClient,
    sweep: str,
    role: str,
    trial_id: str | None = None,
    experiment_ids: list[str] | None = None,
    status: str | None = None,
) -> list[Any]:
    """Runs of a sweep by tags (and status), across all experiments unless given, as ``search_runs`` finds
    them: read in bulk from a SQL store (``mlflow_internals.bulk_read``), searched page by page on a tracking
    server."""
    if experiment_ids is None:
        experiment_ids = [e.experiment_id for e in client.search_experiments()]
    wanted = {tags.SWEEP: sweep, tags.ROLE: role}
    if trial_id is not None:
        wanted[tags.TRIAL_ID] = trial_id
    bulk = read_runs(client, experiment_ids, wanted, status)
    if bulk is not None:
        return bulk
    return _searched(client, experiment_ids, _sweep_filter(sweep, role, trial_id, status))


def _searched(client: MlflowClient, experiment_ids: list[str], filter_string: str) -> list[Any]:
    """Every run ``search_runs`` finds, page by page (its default order)."""
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, filter_string, max_results=1000, page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            return runs


def find_parent(client: MlflowClient, sweep: str) -> Any | None:
    parents = find_runs(client, sweep, "parent")
    return parents[0] if parents else None


def parse_param(text: str) -> Any:
    """MLflow stores params as strings; give back numbers, booleans, None and (hashable) tuples."""
    if text in ("None", "True", "False"):
        return {"None": None, "True": True, "False": False}[text]
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return tuple(value) if isinstance(value, list) else value


def open_experiment(client: MlflowClient, name: str) -> str:
    """The experiment's id, created if needed; for the sqlite default, with its artifacts beside the database
    (not in a trial's working dir)."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        if tags.EXPERIMENT_KIND not in experiment.tags:  # made before mixup-tune set the kind
            client.set_experiment_tag(experiment.experiment_id, tags.EXPERIMENT_KIND, tags.TRAINING_KIND)
        return experiment.experiment_id
    uri = client.tracking_uri
    location = (
        (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts" / name).as_uri()
        if uri.startswith("sqlite:///")
        else None
    )
    return client.create_experiment(
        name, artifact_location=location, tags={tags.EXPERIMENT_KIND: tags.TRAINING_KIND}
    )


def open_parent(client: MlflowClient, experiment_id: str, sweep: str, parent_tags: dict[str, str]) -> str:
    """The sweep's parent run, found by its tags and reopened, or created."""
    existing = find_runs(client, sweep, "parent", experiment_ids=[experiment_id])
    if existing:
        run_id = existing[0].info.run_id
        client.update_run(run_id, status="RUNNING")
    else:
        run_id = client.create_run(
            experiment_id, run_name=sweep, tags={tags.SWEEP: sweep, tags.ROLE: "parent"}
        ).info.run_id
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in parent_tags.items()])
    return run_id


# What identifies a trial (its key and params) and the code that ran it.

# Options that say where a trial runs, not what it computes: left out of its identity.
_PLACEMENT_OPTIONS = ("device", "data_root", "download", "loader_workers")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*)(: .*)?$")


def error_line(traceback_text: str, limit: int = 240) -> str:
    """The error a failed trial's traceback ends in, as one line (``ConfigError: model: unknown model``): the
    first exception line of the text, the root cause where Ray chains its own after it; its class without
    its module. The text's last line where none is found."""
    lines = [_ANSI.sub("", line).rstrip() for line in traceback_text.splitlines()]
    for line in lines:
        if line and not line[0].isspace() and (match := _EXCEPTION_LINE.match(line)):
            if match.group(2) or line.endswith(("Error", "Exception", "Interrupt")):
                return f"{match.group(1)}{match.group(2) or ''}"[:limit]
    return next((line.strip() for line in reversed(lines) if line.strip()), "")[:limit]


def trial_key(config: dict[str, Any]) -> str:
    """A stable id for a trial: the hash of its full, validated config, and of the plugins whose code it
    runs (their versions or file digests: an edited plugin's trials are new trials). A trial of built-ins
    only hashes its config alone, as before plugins existed."""
    train_config = TrainConfig.from_dict(config)
    identity: dict[str, Any] = {k: v for k, v in train_config.flat().items() if k not in _PLACEMENT_OPTIONS}
    recorded = config.get(PLUGIN_VERSIONS)  # as the trial was made (a grid's): not what is loaded now
    plugins = OptionGroup(recorded).items if isinstance(recorded, str) else provenance(train_config)
    if plugins:
        identity["plugins"] = plugins
    return hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


MAX_RUN_NAME = 250  # MLflow's runs.name column is a String(250): PostgreSQL refuses a longer name


def swept_in(document: dict[str, Any]) -> list[str]:
    """The flat options a sweep document varies, which name its trials: its search axes, then its variants'
    keys (``mixup_tune.search.swept_options``, for a document read back from MLflow)."""
    variants = document.get("variants") or []
    return list(dict.fromkeys([*(document.get("search") or {}), *(k for v in variants for k in flatten(v))]))


def setting_name(config: dict[str, Any], swept: list[str]) -> str:
    """A trial run's name in the MLflow UI: its setting, such as ``alpha=1 label_noise=0.4 seed=0`` ("" when
    the sweep varies nothing). A function of the config alone, so a resumed or synced trial keeps it."""
    flat = TrainConfig.from_dict(config).flat()
    name = " ".join(f"{key}={_short(flat[key])}" for key in swept if key in flat)
    if len(name) > MAX_RUN_NAME:  # cut, and told apart by the trial's key, which the whole setting hashes
        name = f"{name[: MAX_RUN_NAME - 14]}… {trial_key(config)[:12]}"
    return name


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"  # 1.0 as 1, a sampled 0.0031622776601683794 as 0.003162
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def code_version() -> str:
    """The git commit of this checkout ("-dirty" with local changes), else the package version."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"mixup-tune {version('mixup-tune')}"
        except PackageNotFoundError:
            return "unknown"


def mlflow_params(config: dict[str, Any]) -> list[Param]:
    """A trial's flat options as MLflow params: lists as JSON, everything else as text."""
    flat = TrainConfig.from_dict(config).flat()
    return [
        Param(key, json.dumps(value) if isinstance(value, (list, tuple)) else str(value))
        for key, value in sorted(flat.items())
    ]
