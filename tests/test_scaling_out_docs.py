"""docs/scaling-out.md's recipes, checked as far as they can be without Kubernetes or SLURM: mixup-tune's
commands in them parse, the SLURM script is valid bash whose `ray symmetric-run` options Ray has, and the
RayJob manifest is YAML with the fields KubeRay reads."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import REPO

from mixup_tune.cli import _parser

PAGE = (REPO / "docs" / "scaling-out.md").read_text()
RAY = str(Path(sys.executable).parent / "ray")


def _block(language: str, after: str) -> str:
    """The first fenced block of ``language`` after the heading ``after``."""
    section = PAGE[PAGE.index(after) :]
    found = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert found, f"no {language} block after {after!r}"
    return found.group(1)


def _mixup_tune_args(words: list[str]) -> list[str]:
    """The arguments of the first `mixup-tune` command among ``words``."""
    return words[words.index("mixup-tune") + 1 :]


def _parses(args: list[str]) -> None:
    parsed = _parser().parse_args(args)  # argparse exits (SystemExit) on an unknown option
    assert parsed.command == "run" and (REPO / parsed.spec).is_file(), args


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(_block("yaml", "## Kubernetes"))


@pytest.fixture(scope="module")
def sbatch() -> str:
    return _block("bash", "## SLURM")


def test_the_rayjob_manifest_has_what_kuberay_reads(manifest: dict) -> None:
    assert (manifest["apiVersion"], manifest["kind"]) == ("ray.io/v1", "RayJob")
    assert manifest["metadata"]["name"]
    cluster = manifest["spec"]["rayClusterSpec"]
    pods = [cluster["headGroupSpec"]["template"]] + [
        group["template"] for group in cluster["workerGroupSpecs"]
    ]
    for pod in pods:
        volumes = {volume["name"] for volume in pod["spec"]["volumes"]}
        for container in pod["spec"]["containers"]:
            assert container["name"] and container["image"]
            assert {mount["name"] for mount in container["volumeMounts"]} <= volumes
            mounted = [mount["mountPath"] for mount in container["volumeMounts"]]
            # the storage and data the entrypoint names are on the shared volume
            assert any("/shared/mixup_tune_results".startswith(path) for path in mounted)
    for group in cluster["workerGroupSpecs"]:
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]


def test_the_rayjob_entrypoint_is_a_mixup_tune_command(manifest: dict) -> None:
    words = shlex.split(manifest["spec"]["entrypoint"])
    assert "--address" not in words, "a job's driver joins the job's cluster (RAY_ADDRESS)"
    _parses(_mixup_tune_args(words))


def test_the_slurm_script_is_valid_bash_with_a_mixup_tune_command(sbatch: str, tmp_path: Path) -> None:
    (tmp_path / "sweep.sbatch").write_text(sbatch)
    checked = subprocess.run(["bash", "-n", str(tmp_path / "sweep.sbatch")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    command = sbatch[sbatch.index("srun ") :].replace("\\\n", " ")
    words = shlex.split(command)
    assert words[words.index("--") - 1] != "--", "one -- between Ray's options and the entrypoint"
    _parses(_mixup_tune_args(words))


def test_rays_symmetric_run_has_the_options_the_script_gives_it(sbatch: str) -> None:
    command = shlex.split(sbatch[sbatch.index("ray symmetric-run") :].replace("\\\n", " "))
    given = [word for word in command[: command.index("--")] if word.startswith("--")]
    shown = subprocess.run([RAY, "symmetric-run", "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    start = subprocess.run([RAY, "start", "--help"], capture_output=True, text=True, timeout=120)
    assert start.returncode == 0, start.stderr
    # its own options, and the ones it passes to `ray start` on every node
    for option in given:
        assert option in shown.stdout or option in start.stdout, option
    assert {"--address", "--min-nodes"} <= set(given) and "--min-nodes" in shown.stdout
