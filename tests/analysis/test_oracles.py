"""Our statistics and calibration measures held to other libraries' own (oracles), on random inputs and on
the edge cases where a convention shows: rliable (the IQM, the probability of improvement, the stratified
bootstrap), torchmetrics (top-1 ECE, AUROC, AUPR), netcal (ECE over equal-width and equal-mass bins,
temperature scaling), torch-uncertainty (adaptive and classwise ECE, Brier score, NLL, FPR at 95% TPR) and
scikit-posthocs (Nemenyi's test and its critical-difference diagram's bars).

Each oracle is in the ``test`` extra; ``pytest.importorskip`` keeps the file running where one is missing.
Where an oracle's convention differs from ours, a test says how and holds each side to a loop of its own
convention, rather than loosening a tolerance.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import studentized_range

from analysis.bootstrap import bootstrap_interval, iqm, probability_of_improvement
from analysis.cd_diagram import nemenyi_groups
from analysis.ranks import average_ranks, nemenyi_critical_difference
from trainables.calibration import BINS, summarise
from trainables.calibration_scores import adaptive_ece, brier, classwise_ece, fit_temperature, nll
from trainables.ood import aupr_in, auroc, fpr_at_tpr


def _logits(n: int, classes: int, seed: int, scale: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits in double precision and labels that agree with the argmax 70% of the time."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=g, dtype=torch.float64) * scale
    random = torch.randint(0, classes, (n,), generator=g)
    labels = torch.where(torch.rand(n, generator=g) < 0.7, logits.argmax(1), random)
    return logits, labels


def _top1(probabilities: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return probabilities.max(1).values, (probabilities.argmax(1) == labels).double()


def _ece(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    """Our top-1 ECE (trainables.calibration), in percent, of given probabilities."""
    confidence, right = _top1(probabilities, labels)
    return summarise(confidence, right, torch.zeros(len(labels)))[0]["test_ece"]


def _textbook_ece(confidence: np.ndarray, right: np.ndarray, edges: list[float], closed: str) -> float:
    """sum_b n_b / N |accuracy_b - confidence_b| in percent, over bins (edges[b], edges[b + 1]] where
    ``closed`` is "right" (Guo et al.'s, ours), [edges[b], edges[b + 1]) where "left" (torchmetrics',
    netcal's)."""
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (
            (confidence > low) & (confidence <= high)
            if closed == "right"
            else (confidence >= low) & (confidence < high)
        )
        total += abs(right[inside].sum() - confidence[inside].sum())
    return 100.0 * total / len(confidence)


# Three rows on which the conventions part (labels 0, 1, 2: netcal reads fewer distinct labels as binary).
# A confidence of 0.8 = 12/15, on a bin edge in float32 and float64 alike, predicted right beside 0.81 wrong:
# Guo's (b/15, (b+1)/15] puts them in two bins, a left-closed [b/15, (b+1)/15) in one.
ON_AN_EDGE = [[0.8, 0.1, 0.1], [0.1, 0.09, 0.81], [0.5, 0.3, 0.2]], [0, 1, 2]
# A confidence of exactly 1 (float32's softmax gives it beyond a logit gap of about 17), predicted wrong.
ONE = [[1.0, 0.0, 0.0], [0.95, 0.03, 0.02], [0.5, 0.3, 0.2]], [1, 0, 2]
EDGES = list(np.linspace(0.0, 1.0, BINS + 1))
OURS_EDGES = [-math.inf, *EDGES[1:]]  # the first bin holds 0 too (it never occurs: softmax is positive)


# -- rliable (Agarwal et al., 2021) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [0.3],
        [0.3, 0.9],
        [0.1, 0.5, 0.9],
        [4.0, 1.0, 3.0, 2.0],
        [1.0, 1.0, 1.0, 1.0, 1.0],
        [0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0],
        np.random.default_rng(0).normal(size=8),
        np.random.default_rng(1).normal(size=(10, 5)),  # runs x tasks: rliable's IQM pools every score
        np.random.default_rng(2).exponential(size=(3, 7)),
    ],
)
def test_the_iqm_is_rliables(values: list[float] | np.ndarray) -> None:
    metrics = pytest.importorskip("rliable.metrics")
    array = np.asarray(values, dtype=float)
    assert iqm(array) == metrics.aggregate_iqm(array.reshape(len(array), -1))


@pytest.mark.parametrize("seed", range(6))
def test_the_probability_of_improvement_is_rliables(seed: int) -> None:
    metrics = pytest.importorskip("rliable.metrics")
    rng = np.random.default_rng(seed)
    runs_x, runs_y, tasks = (int(v) for v in rng.integers(1, 9, size=3))
    # integer scores tie often: a tie counts half in both (the Mann-Whitney U statistic)
    x, y = (
        rng.integers(0, 4, size=(runs, tasks)).astype(float) if seed % 2 else rng.normal(size=(runs, tasks))
        for runs in (runs_x, runs_y)
    )
    theirs = metrics.probability_of_improvement(x, y)  # higher is better, the mean over tasks
    per_task = [probability_of_improvement(x[:, t], y[:, t], lower_is_better=False) for t in range(tasks)]
    assert np.mean(per_task) == pytest.approx(theirs, abs=1e-12)
    negated = [probability_of_improvement(-x[:, t], -y[:, t]) for t in range(tasks)]
    assert np.mean(negated) == pytest.approx(theirs, abs=1e-12)


def test_identical_runs_improve_with_probability_one_half_in_both() -> None:
    metrics = pytest.importorskip("rliable.metrics")
    x = np.array([[0.2], [0.5], [0.5], [0.9]])
    assert probability_of_improvement(x[:, 0], x[:, 0]) == metrics.probability_of_improvement(x, x) == 0.5


def _rliable_library():  # type: ignore[no-untyped-def]
    pytest.importorskip("rliable")
    try:
        import rliable.library as library
    except (ImportError, TypeError) as error:
        # rliable needs arch < 8, and arch 7.2 fails at import beside pandas 3 (a `deprecate_kwarg` call);
        # arch 8 imports but renamed the `random_state` that rliable's StratifiedBootstrap passes.
        pytest.skip(f"rliable.library does not import here: {type(error).__name__}: {str(error)[:80]}")
    return library


@pytest.fixture
def global_numpy_seed():  # type: ignore[no-untyped-def]
    """rliable's bootstrap draws from numpy's global generator (np.random.choice), whatever its
    ``random_state``: seeded here, put back after."""
    state = np.random.get_state()
    np.random.seed(0)
    yield
    np.random.set_state(state)


@pytest.mark.usefixtures("global_numpy_seed")
def test_the_iqms_bootstrap_interval_agrees_with_rliables_stratified_bootstrap() -> None:
    library, metrics = _rliable_library(), pytest.importorskip("rliable.metrics")
    rng = np.random.default_rng(3)
    statistic = lambda scores: np.array([metrics.aggregate_iqm(scores)])
    # One task: rliable's stratified bootstrap resamples runs within the one task, which is our resampling
    # of the values; both take the 2.5th and 97.5th percentiles (linear interpolation) of the resampled
    # IQMs. The same estimator: the bounds agree within the two Monte Carlo samples' error.
    values = rng.normal(size=20)
    point, interval = library.get_interval_estimates({"x": values[:, None]}, statistic, reps=4000)
    ours = bootstrap_interval(values, "iqm", "percentile")
    assert ours.estimate == point["x"][0]
    width = ours.high - ours.low
    assert interval["x"][0, 0] == pytest.approx(ours.low, abs=0.1 * width)
    assert interval["x"][1, 0] == pytest.approx(ours.high, abs=0.1 * width)
    # Several tasks: rliable resamples within each task (stratified), ours the pooled values (IID): other
    # estimators of the same IQM. The estimate is the same; each interval holds it.
    scores = rng.normal(size=(6, 4)) + np.arange(4)
    point, interval = library.get_interval_estimates({"x": scores}, statistic, reps=2000)
    ours = bootstrap_interval(scores.ravel(), "iqm", "percentile")
    assert ours.estimate == point["x"][0]
    assert interval["x"][0, 0] <= ours.estimate <= interval["x"][1, 0]
    assert ours.low <= ours.estimate <= ours.high


# -- torchmetrics ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "classes", "seed"), [(500, 10, 0), (333, 3, 1), (64, 100, 2), (7, 5, 3)])
def test_the_ece_is_torchmetrics_on_random_confidences(n: int, classes: int, seed: int) -> None:
    functional = pytest.importorskip("torchmetrics.functional.classification")
    logits, labels = _logits(n, classes, seed)
    probabilities = logits.softmax(1)
    theirs = functional.multiclass_calibration_error(
        probabilities.float(), labels, classes, n_bins=BINS, norm="l1"
    )
    assert _ece(probabilities, labels) == pytest.approx(100 * float(theirs), abs=1e-4)  # theirs in float32


@pytest.mark.parametrize("case", [ON_AN_EDGE, ONE], ids=["on-an-edge", "exactly-one"])
def test_torchmetrics_bins_are_closed_on_the_left_and_ours_on_the_right(case: tuple) -> None:
    """torchmetrics bins with ``torch.bucketize(confidence, linspace(0, 1, 16), right=True) - 1``:
    [b/15, (b+1)/15), and a 16th bin of its own for a confidence of exactly 1. Ours are Guo et al.'s
    (b/15, (b+1)/15], 1 in the last. They part only where a confidence lies on an edge."""
    functional = pytest.importorskip("torchmetrics.functional.classification")
    probabilities, labels = torch.tensor(case[0], dtype=torch.float64), torch.tensor(case[1])
    theirs = 100 * float(
        functional.multiclass_calibration_error(probabilities.float(), labels, 3, n_bins=BINS)
    )
    confidence, right = (v.numpy() for v in _top1(probabilities.float().double(), labels))
    their_edges = [float(e) for e in torch.linspace(0, 1, BINS + 1)] + [math.inf]  # float32's edges
    assert theirs == pytest.approx(_textbook_ece(confidence, right, their_edges, "left"), abs=1e-4)
    ours = _ece(probabilities, labels)
    assert ours == pytest.approx(
        _textbook_ece(*(v.numpy() for v in _top1(probabilities, labels)), OURS_EDGES, "right")
    )
    assert abs(ours - theirs) > 1.0


@pytest.mark.parametrize("seed", range(4))
def test_auroc_and_aupr_are_torchmetrics(seed: int) -> None:
    functional = pytest.importorskip("torchmetrics.functional.classification")
    g = torch.Generator().manual_seed(seed)
    inside = torch.randn(int(torch.randint(5, 300, (1,), generator=g)), generator=g, dtype=torch.float64) + 1
    outside = torch.randn(int(torch.randint(5, 300, (1,), generator=g)), generator=g, dtype=torch.float64)
    if seed % 2:  # ties, within and across the two sets
        inside, outside = inside.round(decimals=1), outside.round(decimals=1)
    scores, target = (
        torch.cat([inside, outside]),
        torch.cat([torch.ones(len(inside)), torch.zeros(len(outside))]),
    )
    assert auroc(inside, outside) == pytest.approx(
        float(functional.binary_auroc(scores, target.long())), abs=1e-6
    )
    theirs = float(functional.binary_average_precision(scores, target.long()))
    assert aupr_in(inside, outside) == pytest.approx(theirs, abs=1e-6)


# -- netcal (Küppers et al., 2020) ------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "classes", "seed"), [(600, 10, 0), (450, 3, 1), (37, 5, 2)])
def test_the_ece_is_netcals_on_random_confidences(n: int, classes: int, seed: int) -> None:
    metrics = pytest.importorskip("netcal.metrics")
    logits, labels = _logits(n, classes, seed)
    probabilities = logits.softmax(1)
    assert len(labels.unique()) > 2  # netcal takes two distinct labels for a binary problem
    theirs = 100 * metrics.ECE(bins=BINS).measure(probabilities.numpy(), labels.numpy())
    assert _ece(probabilities, labels) == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize("case", [ON_AN_EDGE, ONE], ids=["on-an-edge", "exactly-one"])
def test_netcals_bins_are_closed_on_the_left_and_hold_one_in_the_last(case: tuple) -> None:
    """netcal bins with scipy's ``binned_statistic_dd`` on linspace(0, 1, 16): [b/15, (b+1)/15), the
    last closed, after clipping confidences to [eps, 1 - eps]. On an edge it parts from ours; at 1 it
    agrees with ours (and not with torchmetrics)."""
    metrics = pytest.importorskip("netcal.metrics")
    probabilities, labels = np.array(case[0]), np.array(case[1])
    theirs = 100 * metrics.ECE(bins=BINS).measure(probabilities, labels)
    confidence, right = probabilities.max(1), (probabilities.argmax(1) == labels).astype(float)
    assert theirs == pytest.approx(_textbook_ece(confidence, right, [*EDGES[:-1], math.inf], "left"))
    ours = _ece(torch.tensor(probabilities), torch.tensor(labels))
    assert (abs(ours - theirs) > 1.0) == (case is ON_AN_EDGE)


@pytest.mark.parametrize(("n", "seed"), [(15, 0), (30, 1), (600, 2), (1500, 3)])
def test_the_adaptive_ece_is_netcals_equal_mass_ece_where_the_bins_are_equal(n: int, seed: int) -> None:
    """netcal's ``ECE(equal_intervals=False)`` cuts at np.quantile's (linearly interpolated) 1/15 quantiles,
    ours where ``tensor_split`` does (runs of sizes that differ by at most one, the larger first). With
    distinct confidences and N a multiple of 15 both give runs of N / 15; otherwise their runs differ (at
    N = 37 netcal's run 3, 2, 3, 2, 2, 3, ..., ours 3 seven times, then 2) and so, in general, do the ECEs."""
    metrics = pytest.importorskip("netcal.metrics")
    logits, labels = _logits(n, 5, seed)
    probabilities = logits.softmax(1)
    theirs = 100 * metrics.ECE(bins=BINS, equal_intervals=False).measure(
        probabilities.numpy(), labels.numpy()
    )
    assert adaptive_ece(*_top1(probabilities, labels)) == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize(("classes", "scale", "seed"), [(10, 4.0, 0), (3, 0.5, 1), (100, 6.0, 3)])
def test_the_fitted_temperature_is_netcals(classes: int, scale: float, seed: int) -> None:
    """Both minimise the NLL of softmax(logits / T): ours by Brent's bounded search on log T, netcal's
    ``TemperatureScaling`` (method "mle") by L-BFGS-B on its weight 1 / T, over log(probabilities), which
    are the logits less a constant per row."""
    scaling = pytest.importorskip("netcal.scaling")
    logits, labels = _logits(300, classes, seed, scale)
    model = scaling.TemperatureScaling()
    model.fit(logits.softmax(1).numpy(), labels.numpy())
    theirs = 1.0 / float(np.ravel(model.temperature)[0])
    ours = fit_temperature(logits, labels)
    assert (ours > 1) == (scale > 1)  # overconfident logits cool down, underconfident ones warm up
    assert ours == pytest.approx(theirs, rel=1e-4)
    assert nll(logits, labels, ours) == pytest.approx(nll(logits, labels, theirs), abs=1e-9)


# -- torch-uncertainty ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "seed"), [(15, 0), (16, 1), (37, 2), (100, 3), (1000, 4)])
def test_the_adaptive_ece_is_torch_uncertaintys(n: int, seed: int) -> None:
    """Both sort the confidences and ``tensor_split`` them into 15 runs. Below 15 examples theirs is NaN
    (0 / 0 in an empty run), ours skips empty runs; with ties across a cut, their unstable sort may order
    the tied examples otherwise than our stable one: neither occurs here."""
    classification = pytest.importorskip("torch_uncertainty.metrics.classification")
    logits, labels = _logits(n, 5, seed)
    probabilities = logits.softmax(1)
    metric = classification.AdaptiveCalibrationError(task="multiclass", num_classes=5, num_bins=BINS)
    metric.update(probabilities, labels)
    assert adaptive_ece(*_top1(probabilities, labels)) == pytest.approx(
        100 * float(metric.compute()), abs=1e-4
    )


@pytest.mark.parametrize(("n", "classes", "seed"), [(500, 10, 0), (200, 3, 1), (40, 20, 2)])
def test_classwise_ece_brier_and_nll_are_torch_uncertaintys(n: int, classes: int, seed: int) -> None:
    classification = pytest.importorskip("torch_uncertainty.metrics.classification")
    logits, labels = _logits(n, classes, seed)
    probabilities = logits.softmax(1)
    classwise = classification.ClasswiseCalibrationError(num_classes=classes, num_bins=BINS)
    classwise.update(probabilities, labels)
    # the mean over classes of torchmetrics' binary ECE of p_k against [y = k]: left-closed bins as above,
    # the same wherever no probability lies on an edge
    assert classwise_ece(probabilities, labels) == pytest.approx(100 * float(classwise.compute()), abs=1e-6)
    score = classification.BrierScore(num_classes=classes)
    score.update(probabilities, labels)
    assert brier(probabilities, labels) == pytest.approx(float(score.compute()), rel=1e-6)
    likelihood = classification.CategoricalNLL()
    likelihood.update(probabilities, labels)
    assert nll(logits, labels) == pytest.approx(float(likelihood.compute()), rel=1e-6)


@pytest.mark.filterwarnings("ignore:Metric `FPR95` will save all targets")
@pytest.mark.parametrize(("n_in", "n_out", "seed"), [(20, 30, 0), (100, 7, 1), (57, 300, 2), (1, 5, 3)])
def test_the_fpr_at_95_tpr_is_torch_uncertaintys(n_in: int, n_out: int, seed: int) -> None:
    classification = pytest.importorskip("torch_uncertainty.metrics.classification")
    g = torch.Generator().manual_seed(seed)
    inside = (torch.randn(n_in, generator=g, dtype=torch.float64) + 1).round(decimals=1)  # ties too
    outside = torch.randn(n_out, generator=g, dtype=torch.float64).round(decimals=1)
    metric = classification.FPR95(pos_label=1)  # in-distribution the positive class, as ours
    metric.update(torch.cat([inside, outside]), torch.cat([torch.ones(n_in), torch.zeros(n_out)]).long())
    assert fpr_at_tpr(inside, outside) == pytest.approx(float(metric.compute()), abs=1e-7)  # theirs float32


# -- scikit-posthocs -------------------------------------------------------------------------------------


def _tables() -> list[pd.DataFrame]:
    rng = np.random.default_rng(0)
    tables = []
    for index in range(8):
        k, rows = int(rng.integers(3, 11)), int(rng.integers(4, 30))
        values = rng.normal(size=(rows, k)) + np.linspace(0, rng.uniform(0, 3), k)
        if index % 2:
            values = values.round(0)  # ties within a dataset share their mean rank
        tables.append(pd.DataFrame(values, columns=[f"m{j}" for j in range(k)]))
    return tables


@pytest.mark.parametrize("scores", _tables())
def test_nemenyis_test_finds_significant_exactly_the_pairs_beyond_our_critical_difference(
    scores: pd.DataFrame,
) -> None:
    posthocs = pytest.importorskip("scikit_posthocs")
    p = posthocs.posthoc_nemenyi_friedman(scores.to_numpy())  # ranks within rows, the lowest value 1
    p.index = p.columns = scores.columns
    ranks = average_ranks(scores)
    n, k = len(scores), scores.shape[1]
    cd = nemenyi_critical_difference(k, n)
    for i, a in enumerate(scores.columns):
        for b in scores.columns[i + 1 :]:
            gap = abs(ranks[a] - ranks[b])
            # their p-value is the studentized range's tail at our ranks' gap: their ranks are ours
            expected = studentized_range.sf(gap * math.sqrt(2) / math.sqrt(k * (k + 1) / (6 * n)), k, np.inf)
            assert p.loc[a, b] == pytest.approx(expected, rel=1e-9, abs=1e-15)
            assert (p.loc[a, b] < 0.05) == (gap >= cd)


@pytest.mark.parametrize("scores", _tables())
def test_the_diagrams_bars_are_scikit_posthocs_crossbars(scores: pd.DataFrame) -> None:
    """scikit-posthocs joins the maximal cliques (Bron-Kerbosch) of the pairs its Nemenyi test does not
    separate (p >= 0.05); ours are the maximal runs of ranks spanning less than CD."""
    posthocs = pytest.importorskip("scikit_posthocs")
    from matplotlib.figure import Figure

    p = posthocs.posthoc_nemenyi_friedman(scores.to_numpy())
    p.index = p.columns = scores.columns
    ranks = average_ranks(scores)
    drawn = posthocs.critical_difference_diagram(ranks, p, ax=Figure().add_subplot())
    theirs = {tuple(sorted(line.get_xdata())) for lines in drawn["crossbars"] for line in lines}
    cd = nemenyi_critical_difference(scores.shape[1], len(scores))
    ours = {tuple(sorted(ranks[list(group)])) for group in nemenyi_groups(ranks, cd)}
    assert ours == theirs
