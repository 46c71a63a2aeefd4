"""The mixup family's mask methods (issue 30): FMix, ResizeMix, SmoothMix and RandomMix, each held to a
reference written here from its paper's definition with the draws fixed, to the properties that hold
(a mask's mean is the own label's weight, a pasted region comes from the partner, off is ERM), and to
``mixup-tune check`` (seeded, resumed bit for bit in a real trial, no global RNG, fp32 and bf16)."""

from __future__ import annotations

import copy
import math
import os
import sys
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainables import ConfigError, TrainConfig
from trainables.conformance import check_method, method_config
from trainables.mixing import Draws, batch_loss, build_mix_method, timm_modes
from trainables.mixing._protocol import MixContext
from trainables.mixing.fmix import binarised, fmix_batch, fourier_noise, low_frequency_image
from trainables.mixing.randommix import CANDIDATES
from trainables.mixing.resizemix import paste_resized, resized_box, resizemix_batch
from trainables.mixing.smoothmix import smooth_mask, smoothmix_batch

FAMILY = ("fmix", "resizemix", "smoothmix", "randommix", "timm_mixup", "regmixup")


def _images(n: int = 8, size: tuple[int, int] = (12, 10), seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, *size, generator=generator), torch.randint(5, (n,), generator=generator)


def _method(name: str, **options: object):  # type: ignore[no-untyped-def]
    config = method_config(name, **options)
    return build_mix_method(config, MixContext(num_classes=5, device=torch.device("cpu"), train_size=64))


# FMix: Harris et al.'s steps 1 to 5, written out with loops over pixels and frequencies.


def _textbook_fourier_image(noise: np.ndarray, decay: float) -> np.ndarray:
    """g[m, n] = Re (1 / hw) sum_{u, v} Z[u, v] / max(f_uv, 1 / max(h, w)) ** decay e^{2 pi i (um/h + vn/w)},
    f_uv the frequency in cycles per pixel (u / h folded to [-1/2, 1/2))."""
    _, h, w = noise.shape
    fold = lambda k, n: (k if k < (n + 1) // 2 else k - n) / n
    spectrum = np.zeros((h, w), dtype=complex)
    for u in range(h):
        for v in range(w):
            f = math.hypot(fold(u, h), fold(v, w))
            spectrum[u, v] = complex(noise[0, u, v], noise[1, u, v]) / max(f, 1 / max(h, w)) ** decay
    image = np.zeros((h, w))
    for m in range(h):
        for n in range(w):
            phases = np.exp(2j * np.pi * (np.arange(h)[:, None] * m / h + np.arange(w)[None, :] * n / w))
            image[m, n] = (spectrum * phases).sum().real / (h * w)
    return image


def _textbook_binarised(grey: np.ndarray, lam: float, max_soft: float) -> np.ndarray:
    """The top round(lam N) pixels 1; the 2 soft around the cut on a line from 1 to 0."""
    total = grey.size
    count, soft = round(lam * total), int(total * min(max_soft, lam, 1 - lam))
    order = sorted(range(total), key=lambda i: -grey.flat[i])
    mask = np.zeros(total)
    for rank, pixel in enumerate(order):
        if rank < count - soft:
            mask[pixel] = 1.0
        elif rank < count + soft:
            mask[pixel] = 1 - (rank - (count - soft)) / (2 * soft - 1)
    return mask.reshape(grey.shape)


@pytest.mark.parametrize(("decay", "lam", "max_soft"), [(3.0, 0.37, 0.0), (1.5, 0.8, 0.1), (3.0, 0.05, 0.2)])
def test_fmix_masks_equal_the_papers_steps_written_out(decay: float, lam: float, max_soft: float) -> None:
    noise = fourier_noise(Draws(7), (9, 12))
    grey = low_frequency_image(noise, decay)
    expected_grey = _textbook_fourier_image(noise.numpy(), decay)
    np.testing.assert_allclose(grey.numpy(), expected_grey, atol=1e-9)
    mask = binarised(grey, lam, max_soft)
    np.testing.assert_allclose(mask.numpy(), _textbook_binarised(expected_grey, lam, max_soft), atol=1e-6)
    assert float(mask.double().mean()) == pytest.approx(round(lam * 108) / 108, abs=1e-6), (
        "the ramp keeps the mean"
    )


def test_fmix_masks_are_blobs_in_both_directions_unlike_the_authors_one_segment_rows() -> None:
    """The authors' code keeps width frequencies 0 and 1 only: each row of its masks holds one segment at
    most. The paper's spectrum, ours, has rows of two or more segments in some masks."""
    draws, rows_with_two = Draws(0), 0
    for _ in range(50):
        mask = binarised(low_frequency_image(fourier_noise(draws, (32, 32)), 3.0), 0.5)
        for row in mask.bool():
            rows_with_two += int((row != row.roll(1)).sum()) >= 4
    assert rows_with_two > 0


@pytest.mark.parametrize("max_soft", [0.0, 0.15])
def test_an_fmix_batch_blends_by_its_mask_whose_mean_is_the_own_weight(max_soft: float) -> None:
    x, y = _images()
    draws = Draws(3)
    replay = copy.deepcopy(draws)
    batch = fmix_batch(x, y, draws, 1.0, 3.0, max_soft)
    # the same draws, in the order the docstring gives: noise, lambda, permutation
    grey = low_frequency_image(fourier_noise(replay, (12, 10)), 3.0)
    lam = float(np.float32(replay.numpy.beta(1.0, 1.0)))
    perm = torch.randperm(8, generator=replay.torch)
    mask = torch.from_numpy(_textbook_binarised(grey.numpy(), lam, max_soft)).float()
    torch.testing.assert_close(batch.inputs, mask * x + (1 - mask) * x[perm], atol=1e-6, rtol=0)
    assert torch.equal(batch.labels[1], y[perm]) and batch.weights == pytest.approx(
        float(mask.mean()), abs=1e-6
    )
    if max_soft == 0:
        own = (batch.inputs == x).all(dim=1)  # every pixel is the image's own or its partner's
        assert torch.all(own | (batch.inputs == x[perm]).all(dim=1))


# ResizeMix: the partner shrunk by hand (nearest: source index floor(i * in / out); bilinear: half-pixel
# centres, edges clamped) and pasted whole.


def _textbook_resize(image: np.ndarray, height: int, width: int, mode: str) -> np.ndarray:
    c, h, w = image.shape
    out = np.zeros((c, height, width))
    for i in range(height):
        for j in range(width):
            if mode == "nearest":
                out[:, i, j] = image[:, min(i * h // height, h - 1), min(j * w // width, w - 1)]
                continue
            r = max((i + 0.5) * h / height - 0.5, 0.0)
            s = max((j + 0.5) * w / width - 0.5, 0.0)
            r0, s0 = min(int(r), h - 1), min(int(s), w - 1)
            r1, s1 = min(r0 + 1, h - 1), min(s0 + 1, w - 1)
            a, b = r - r0, s - s0
            out[:, i, j] = (
                (1 - a) * (1 - b) * image[:, r0, s0]
                + (1 - a) * b * image[:, r0, s1]
                + a * (1 - b) * image[:, r1, s0]
                + a * b * image[:, r1, s1]
            )
    return out


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_resizemix_pastes_the_whole_partner_shrunk_and_weights_it_by_area(interpolation: str) -> None:
    x, y = _images(size=(16, 12))
    for seed in range(6):
        draws = Draws(seed)
        replay = copy.deepcopy(draws)
        batch = resizemix_batch(x, y, draws, (0.1, 0.8), interpolation)
        top, left, height, width = resized_box(replay, (16, 12), (0.1, 0.8))
        perm = torch.randperm(8, generator=replay.torch)
        assert 1 <= height <= 12 and 1 <= width <= 9 and top + height <= 16 and left + width <= 12
        expected = x.clone().numpy()
        for i in range(8):
            expected[i, :, top : top + height, left : left + width] = _textbook_resize(
                x[perm[i]].numpy(), height, width, interpolation
            )
        np.testing.assert_allclose(batch.inputs.numpy(), expected, atol=1e-5)
        assert torch.equal(batch.labels[1], y[perm])
        assert batch.weights == pytest.approx(1 - height * width / (16 * 12))


def test_resizemix_draws_tau_uniformly_in_its_scope() -> None:
    draws, sides = Draws(0), []
    for _ in range(2000):
        sides.append(resized_box(draws, (100, 100), (0.2, 0.6))[2])
    assert min(sides) == 20 and max(sides) == 59 and abs(np.mean(sides) - 39.5) < 1.0


def test_resizemix_at_scope_zero_trains_as_erm() -> None:
    assert not type(_method("resizemix")).mixes_in(method_config("resizemix", scope=[0.0, 0.0]))
    x, y = _images()
    assert torch.equal(paste_resized(x, x.flip(0), (3, 2, 0, 0), "nearest"), x)


# SmoothMix: G at each pixel by its formula.


@pytest.mark.parametrize("shape", ["circle", "square"])
def test_smoothmix_blends_by_a_gaussian_mask_whose_mean_is_the_own_weight(shape: str) -> None:
    x, y = _images(size=(11, 14))
    draws = Draws(5)
    replay = copy.deepcopy(draws)
    batch = smoothmix_batch(x, y, draws, (0.25, 0.5), shape)
    spread = float(replay.numpy.uniform(0.25, 0.5))
    row, col = (int(torch.randint(side, (), generator=replay.torch)) for side in (11, 14))
    perm = torch.randperm(8, generator=replay.torch)
    mask = torch.zeros(11, 14)
    for i in range(11):
        for j in range(14):
            dr, dc = (i - row) / (spread * 11), (j - col) / (spread * 14)
            distance = math.hypot(dr, dc) if shape == "circle" else max(abs(dr), abs(dc))
            mask[i, j] = math.exp(-(distance**2) / 2)
    torch.testing.assert_close(batch.inputs, mask * x + (1 - mask) * x[perm], atol=1e-6, rtol=0)
    assert batch.weights == pytest.approx(float(mask.mean()), abs=1e-6) and mask[row, col] == 1.0
    assert torch.equal(batch.labels[1], y[perm])
    assert smooth_mask(Draws(5), (11, 14), (0.25, 0.5), shape).shape == (11, 14)


# RandomMix: each batch is exactly what the candidate drawn for it gives from the same draws.


def test_randommix_mixes_each_batch_by_the_candidate_drawn_for_it() -> None:
    method = _method("randommix", weights=[1.0, 2.0, 1.0, 0.0])
    x, y = _images()
    counts = dict.fromkeys(CANDIDATES, 0)
    draws = Draws(11)
    for _ in range(400):
        replay = copy.deepcopy(draws)
        batch = method.mix(x, y, draws)
        chosen = CANDIDATES[int(replay.numpy.choice(4, p=[0.25, 0.5, 0.25, 0.0]))]
        counts[chosen] += 1
        expected = _method(chosen).mix(x, y, replay)
        assert torch.equal(batch.inputs, expected.inputs) and batch.weights == expected.weights, chosen
    assert counts["resizemix"] == 0
    for name, p in zip(CANDIDATES[:3], [0.25, 0.5, 0.25]):
        assert abs(counts[name] / 400 - p) < 4 * math.sqrt(p * (1 - p) / 400), counts


def test_randommix_refuses_weights_that_choose_nothing() -> None:
    with pytest.raises(ConfigError, match=r"^mix.weights: must give at least one"):
        method_config("randommix", weights=[0, 0, 0, 0])


# The contract: seeded, resumed bit for bit in a real trial, no global RNG, targets, off, fp32 and bf16.


@pytest.mark.parametrize("name", FAMILY)
def test_each_method_passes_every_check(name: str) -> None:
    _, checks = check_method(name)
    assert [c.line() for c in checks if c.passed is False] == []
    passed = {c.name for c in checks if c.passed}
    assert passed >= {
        "seeded",
        "resume",
        "no global RNG",
        "targets",
        "resume in a trial",
        "precision",
        "data",
    }


def test_the_family_reaches_the_trial_by_name_with_its_options() -> None:
    config = TrainConfig(alpha=1.0, mix={"method": "fmix", "decay_power": 2})
    assert config.mix == {"method": "fmix", "decay_power": 2.0, "max_soft": 0.0}


# timm's modes: each held to timm's own Mixup given the same lambdas, switches and boxes (timm draws from
# numpy's global generator; its draws are replaced by ours, so that what is compared is what it does with
# them: which pixels, which partner, which weight).

TIMM_SETTINGS: dict[str, dict[str, Any]] = {
    "mixup": {"alpha": 1.0},
    "cutmix": {"alpha": 0.0, "cutmix_alpha": 1.0},
    "switch": {"alpha": 0.4, "cutmix_alpha": 1.0, "switch_prob": 0.5, "prob": 0.8},
    "minmax": {"alpha": 1.0, "cutmix_minmax": [0.2, 0.8], "switch_prob": 0.7},
    "uncorrected": {"alpha": 0.0, "cutmix_alpha": 2.0, "correct_lam": False},
}


@pytest.mark.parametrize("mode", ["batch", "pair", "elem"])
@pytest.mark.parametrize("setting", list(TIMM_SETTINGS))
def test_timm_mixup_equals_timms_own_mixup_for_the_same_draws(
    mode: str, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixup_module = pytest.importorskip("timm.data.mixup")
    options = {**TIMM_SETTINGS[setting], "mode": mode}
    method = _method("timm_mixup", **options)
    x, y = _images(n=8, size=(16, 12))
    for seed in range(5):
        draws = Draws(seed)
        replay = copy.deepcopy(draws)
        ours = method.mix(x, y, draws)
        units = {"batch": 1, "pair": 4, "elem": 8}[mode]
        lam, cut = timm_modes.unit_draws(
            replay,
            units,
            options["alpha"],
            method.cutmix_alpha,
            method.switch_prob,
            method.prob,
            mode == "batch",
        )
        mixing = cut & (lam != 1)
        boxes = iter(
            zip(*timm_modes.unit_boxes(replay, (16, 12), lam[mixing], method.minmax)) if mixing.any() else []
        )
        theirs = mixup_module.Mixup(
            mixup_alpha=options["alpha"],
            cutmix_alpha=options.get("cutmix_alpha", 0.0),
            cutmix_minmax=options.get("cutmix_minmax"),
            prob=options.get("prob", 1.0),
            switch_prob=options.get("switch_prob", 0.5),
            mode=mode,
            correct_lam=options.get("correct_lam", True),
            label_smoothing=0.0,
            num_classes=5,
        )
        monkeypatch.setattr(
            theirs, "_params_per_batch", lambda lam=lam, cut=cut: (float(lam[0]), bool(cut[0]))
        )
        monkeypatch.setattr(
            theirs, "_params_per_elem", lambda size, lam=lam, cut=cut: (lam.copy(), cut.copy())
        )
        next_box = lambda *args, boxes=boxes, **kwargs: tuple(int(v) for v in next(boxes))
        monkeypatch.setattr(mixup_module, "rand_bbox", next_box)
        monkeypatch.setattr(mixup_module, "rand_bbox_minmax", next_box)
        their_x, their_targets = theirs(x.clone(), y)
        torch.testing.assert_close(ours.inputs, their_x, atol=1e-6, rtol=0)
        torch.testing.assert_close(ours.target_distribution(5), their_targets.float(), atol=1e-6, rtol=0)


def test_timm_mixup_leaves_an_odd_batchs_middle_as_it_is() -> None:
    """timm refuses odd batches; here the middle example is mixed with itself (elem, batch) or not at all
    (pair): its image and its one-hot target stay as they are."""
    x, y = _images(n=7)
    own = F.one_hot(y[3], 5).float()
    for mode in ("batch", "pair", "elem"):
        batch = _method("timm_mixup", mode=mode, alpha=1.0, cutmix_alpha=1.0).mix(x, y, Draws(0))
        assert torch.equal(batch.inputs[3], x[3]) and torch.allclose(batch.target_distribution(5)[3], own)
        assert not torch.equal(batch.inputs, x)
    weights = _method("timm_mixup", mode="pair", alpha=1.0).mix(x, y, Draws(1)).weight_tensor()[:, 0]
    assert weights[3] == 1.0 and torch.equal(weights, weights.flip(0)), "a pair's examples share their lambda"


@pytest.mark.parametrize(
    "options",
    [
        {"mode": "pair", "cutmix_alpha": 1.0},
        {"mode": "elem", "cutmix_alpha": 1.0, "prob": 0.5},
        {"mode": "batch", "cutmix_minmax": [0.3, 0.6]},
    ],
)
def test_timm_modes_pass_every_check(options: dict) -> None:
    _, checks = check_method("timm_mixup", **options)
    assert [c.line() for c in checks if c.passed is False] == []


# RegMixup: the clean batch and its mixup in one forward pass, the loss the mean of the two halves' losses
# (the authors' code: 0.5 * (CE(clean) + mixup-CE(mixed))).


def test_regmixup_trains_on_the_clean_batch_and_its_mixup_at_half_each() -> None:
    x, y = _images()
    draws = Draws(4)
    replay = copy.deepcopy(draws)
    batch = _method("regmixup", alpha=20.0).mix(x, y, draws)
    lam = float(np.float32(replay.numpy.beta(20.0, 20.0)))
    perm = torch.randperm(8, generator=replay.torch)
    assert torch.equal(batch.inputs[:8], x)
    torch.testing.assert_close(batch.inputs[8:], lam * x + (1 - lam) * x[perm], atol=1e-6, rtol=0)
    logits = torch.randn(16, 5, generator=torch.Generator().manual_seed(0))
    clean = F.cross_entropy(logits[:8], y)
    mixed = lam * F.cross_entropy(logits[8:], y) + (1 - lam) * F.cross_entropy(logits[8:], y[perm])
    torch.testing.assert_close(batch_loss(batch, logits), 0.5 * (clean + mixed), atol=1e-6, rtol=0)


# SaliencyMix: OpenCV's saliency (the oracle, called here directly), its first maximum, a CutMix box there.


def _cv2() -> Any:
    """opencv-contrib, which make install brings (the saliency extra); CI refuses to skip without it."""
    if os.environ.get("MIXUP_TUNE_REQUIRE_SALIENCY"):
        import cv2 as required

        return required
    return pytest.importorskip("cv2", reason="the saliency extra: pip install 'mixup-tune[saliency]'")


@pytest.mark.parametrize("saliency_of", ["batch", "image"])
def test_saliencymix_pastes_the_box_around_opencvs_most_salient_pixel(saliency_of: str) -> None:
    opencv = _cv2()
    x, y = _images(n=6, size=(32, 28))
    draws = Draws(2)
    replay = copy.deepcopy(draws)
    batch = _method("saliencymix", saliency_of=saliency_of).mix(x, y, draws)
    lam = float(np.float32(replay.numpy.beta(1.0, 1.0)))
    perm = torch.randperm(6, generator=replay.torch)
    expected, weights = x.clone(), []
    for i in range(6):
        source = x[perm[0] if saliency_of == "batch" else perm[i]].numpy().transpose(1, 2, 0)
        scaled = np.round((source - source.min()) / (source.max() - source.min()) * 255).astype(np.uint8)
        _, saliency = opencv.saliency.StaticSaliencyFineGrained_create().computeSaliency(scaled)
        quantised = (saliency * 255).astype(np.uint8)
        row, col = divmod(int(quantised.argmax()), 28)
        half_h, half_w = int(32 * math.sqrt(1 - lam)) // 2, int(28 * math.sqrt(1 - lam)) // 2
        top, bottom = max(row - half_h, 0), min(row + half_h, 32)
        left, right = max(col - half_w, 0), min(col + half_w, 28)
        expected[i, :, top:bottom, left:right] = x[perm[i], :, top:bottom, left:right]
        weights.append(1 - (bottom - top) * (right - left) / (32 * 28))
    assert torch.equal(batch.inputs, expected) and torch.equal(batch.labels[1], y[perm])
    torch.testing.assert_close(batch.weight_tensor()[:, 0], torch.tensor(weights), atol=1e-6, rtol=0)


def test_saliencymix_without_opencv_contrib_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 raises ImportError
    with pytest.raises(ConfigError, match=r"^mix.method: saliencymix needs OpenCV's saliency module"):
        method_config("saliencymix")


def test_saliencymix_passes_every_check() -> None:
    _cv2()
    _, checks = check_method("saliencymix")
    assert [c.line() for c in checks if c.passed is False] == []


def test_a_range_option_that_falls_is_refused_in_one_line() -> None:
    for name, key in (("resizemix", "scope"), ("smoothmix", "sigma")):
        with pytest.raises(ConfigError, match=rf"^mix.{key}: must be a range \[low, high\] with low <= high"):
            method_config(name, **{key: [0.6, 0.2]})
        assert method_config(name, **{key: [0.3, 0.3]}).mix[key] == (0.3, 0.3)
