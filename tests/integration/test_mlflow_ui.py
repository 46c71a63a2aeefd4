"""MLflow's own UI over a quickstart store, in a real browser: headless Chromium (Debian's package) driven by
Playwright. The link the run prints opens the experiment's training runs, where the parent run holds its 16
nested trial runs with their datasets, and the parent's comparison figure shows.

Needs /usr/bin/chromium (`apt-get install chromium`) and Playwright (the test extras). Without Chromium the
test is skipped, unless MIXUP_TUNE_REQUIRE_BROWSER is set, as `.ci/run` sets it: there it fails instead.
Set MIXUP_TUNE_SCREENSHOTS to a folder to keep the screenshots (docs/mlflow-ui-runs.png is one).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import CLI, REPO, free_port, start_mlflow_ui, stop_server
from mlflow.tracking import MlflowClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
# As root in a closed network: no sandbox, and none of Chromium's calls home (they are refused here, many at a
# time, and slow each start down).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        message = f"no {CHROMIUM}: apt-get install chromium"
        if os.environ.get("MIXUP_TUNE_REQUIRE_BROWSER"):
            pytest.fail(f"{message} (MIXUP_TUNE_REQUIRE_BROWSER is set)", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


def test_the_printed_link_opens_the_training_runs_with_the_nested_trials_and_a_figure(
    chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    port = free_port()  # the user's own port, not MLflow's default 5000
    ran = subprocess.run(
        [
            CLI,
            "run",
            str(REPO / "sweeps/quickstart.yaml"),
            "--tracking-uri",
            uri,
            "--quiet",
            "--ui-port",
            str(port),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    # the UI is started as printed, and the printed link opened as it is
    link = re.search(
        r"mlflow ui --backend-store-uri (\S+) --port (\d+)\s+then (http://127\.0\.0\.1:(\d+)/\S+)", ran.stdout
    )
    assert link and link[1] == uri and link[2] == link[4] == str(port), ran.stdout[-1500:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mixup-quickstart")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`mixup_tune.role` = 'parent'")
    shots = Path(os.environ.get("MIXUP_TUNE_SCREENSHOTS") or tmp_path)
    server, url = start_mlflow_ui(link[1], tmp_path / "ui.log", port=int(link[2]))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(link[3])
            parent_row = page.get_by_role("row").filter(has_text="quickstart").first
            parent_row.wait_for(timeout=60_000)
            assert "/runs" in page.url and "workflowType=machine_learning" in page.url, page.url
            assert page.get_by_text("Training runs").count() + page.get_by_role("link", name="Runs").count()
            page.get_by_text("17 matching runs").wait_for(timeout=30_000)  # the list has loaded: 1 + 16
            parent_row.get_by_role("button").first.click()  # the parent's expander: its nested runs
            # named by their setting (once by Ray's trial id, quickstart-8d49e_00003, which said nothing)
            trials = page.get_by_role("gridcell").filter(
                has_text=re.compile(r"alpha=\S+ label_noise=\S+ seed=\d")
            )
            try:
                trials.nth(15).wait_for(timeout=30_000)
            finally:
                page.screenshot(path=str(shots / "mlflow-ui-runs.png"))
            assert trials.count() == 16
            names = {run.info.run_name for run in client.search_runs([experiment.experiment_id])} - {
                "quickstart"
            }
            # each cell: the run's colour swatch (its hex code), then its name
            assert {trials.nth(i).inner_text().split("\n")[-1].strip() for i in range(16)} == names
            # each trial's dataset, in the Dataset column
            assert (
                page.get_by_role("gridcell").filter(has_text=re.compile(r"digits \([0-9a-f]{16}\)")).count()
                == 16
            )
            page.screenshot(path=str(shots / "mlflow-ui-runs.png"))

            page.goto(
                f"{url}/#/experiments/{experiment.experiment_id}/runs/{parent.info.run_id}/artifacts/"
                "comparison/comparison_parallel_coordinates.png?workflowType=machine_learning"
            )
            figure = page.locator("img[src^='blob:']").first
            figure.wait_for(timeout=30_000)
            assert figure.evaluate("image => image.complete && image.naturalWidth > 500"), "the PNG is drawn"
            page.screenshot(path=str(shots / "mlflow-ui-comparison.png"))
            browser.close()
    finally:
        stop_server(server)
    assert (shots / "mlflow-ui-runs.png").stat().st_size > 10_000
    shutil.rmtree(tmp_path / "mixup_tune_results", ignore_errors=True)
