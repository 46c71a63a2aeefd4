"""Section 2's variants through a real sweep: logged as options, compared with the paper's mixup by
`analyze`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import run_and_analyze

from analysis import load_runs
from analysis.studies.variants import method_of

pytestmark = pytest.mark.integration

TINY_VARIANTS = """\
name: variants-tiny
study: variants
trainable: {dataset: digits, model: mlp, hidden_sizes: [32], epochs: 2, batch_size: 64, alpha: 1}
search: {seed: [0, 1]}
variants: [{alpha: 0}, {}, {mix_k: 3}, {mix_pairing: two_loaders}, {mix_pairing: same_label}]
resources: {cpu: 1, gpu: 0}
"""


def test_a_variants_sweep_logs_each_option_and_compares_it_with_the_papers_mixup(tmp_path: Path) -> None:
    uri = run_and_analyze(tmp_path, TINY_VARIANTS)
    runs = load_runs("variants-tiny", uri)
    runs["method"] = runs.apply(method_of, axis=1)
    assert sorted(runs["method"].unique()) == [
        "ERM",
        "mixup",
        "mixup 3-way",
        "mixup same label",
        "mixup two loaders",
    ]
    assert len(runs) == 10 and (runs["status"] == "FINISHED").all() and (runs["duration_s"] > 0).all()
    table = pd.read_csv(tmp_path / "out" / "variants.csv").set_index("method")
    by_seed = runs.pivot_table(index="seed", columns="method", values="last_test_error")
    for method in ("mixup 3-way", "mixup same label", "mixup two loaders"):
        assert table.loc[method, "minus_mixup_mean"] == pytest.approx(
            (by_seed[method] - by_seed["mixup"]).mean(), abs=1e-3
        )
        assert table.loc[method, "last_test_error_mean"] == pytest.approx(by_seed[method].mean(), abs=1e-3)
    assert table.loc["ERM", "minus_erm_mean"] == 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert (
        "## Section 2's variants of mixup" in report
        and "works equally well" in report
        and "no gain over ERM" in report
    )
    assert (tmp_path / "out" / "variants.png").stat().st_size > 10_000
