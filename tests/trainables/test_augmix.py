"""AugMix (issue 30): its nine operations held to torchvision's own (``transforms.v2.functional``, the
oracle) image by image; a batch's views held to the authors' per-image loop written out here with the
same draws; the Jensen-Shannon term to its formula; and ``mixup-tune check``."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from trainables import ConfigError
from trainables.conformance import check_method, method_config
from trainables.mixing import Draws, batch_loss, build_mix_method
from trainables.mixing._augmix_ops import OPERATIONS
from trainables.mixing._protocol import MixContext
from trainables.mixing.augmix import augmix_views, jensen_shannon

BILINEAR = InterpolationMode.BILINEAR


def _torchvision_op(name: str, image: torch.Tensor, level: float, sign: float) -> torch.Tensor:
    """The authors' operation (google-research/augmix ``augmentations.py``, their magnitudes from ``level``)
    by torchvision's functional op on one uint8 image, as ``transforms.v2.AugMix`` calls it."""
    h, w = image.shape[-2:]
    shear = math.degrees(math.atan(level * 0.3 / 10 * sign))
    if name == "autocontrast":
        return TF.autocontrast(image)
    if name == "equalize":
        return TF.equalize(image)
    if name == "posterize":
        return TF.posterize(image, 4 - int(level * 4 / 10))
    if name == "solarize":
        return TF.solarize(image, 256 - int(level * 256 / 10))
    if name == "rotate":  # PIL's rotate(degrees): counter-clockwise about the centre
        return TF.rotate(image, int(level * 30 / 10) * sign, interpolation=BILINEAR)
    affine = {"angle": 0.0, "scale": 1.0, "interpolation": BILINEAR}
    if name == "shear_x":  # PIL's AFFINE data (1, level, 0, 0, 1, 0): sheared about the top-left corner
        return TF.affine(image, translate=[0, 0], shear=[shear, 0.0], center=[0, 0], **affine)
    if name == "shear_y":
        return TF.affine(image, translate=[0, 0], shear=[0.0, shear], center=[0, 0], **affine)
    # PIL's (1, 0, t, 0, 1, 0) reads the pixel t to the right: the picture moves by -t
    if name == "translate_x":
        return TF.affine(image, translate=[-int(level * w / 3 / 10) * sign, 0], shear=[0.0, 0.0], **affine)
    assert name == "translate_y"
    return TF.affine(image, translate=[0, -int(level * h / 3 / 10) * sign], shear=[0.0, 0.0], **affine)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", [name for name, _ in OPERATIONS])
def test_each_operation_on_a_batch_equals_torchvisions_image_by_image(name: str, channels: int) -> None:
    generator = torch.Generator().manual_seed(channels)
    images = torch.randint(0, 256, (16, channels, 13, 11), generator=generator, dtype=torch.uint8)
    images[:3] = images[:3] // 4 + 60  # low contrast, for autocontrast and equalize to change
    levels = torch.rand(16, generator=generator) * 9.9 + 0.1  # up to severity 10
    signs = torch.where(torch.rand(16, generator=generator) > 0.5, -1.0, 1.0)
    ours = dict(OPERATIONS)[name](images, levels, signs)
    expected = torch.stack(
        [_torchvision_op(name, images[i], float(levels[i]), float(signs[i])) for i in range(16)]
    )
    assert torch.equal(ours, expected)
    if name not in ("autocontrast", "equalize"):
        assert not torch.equal(ours, images)


def _authors_views(
    x: np.ndarray, rng: np.random.Generator, views: int, width: int, severity: int
) -> np.ndarray:
    """The authors' ``aug`` (their ``cifar.py``) image by image, from our block of draws: per view and
    image, Dirichlet weights and m; per chain a depth of 1 to 3; per step an operation, level and sign."""
    n = len(x)
    weights = rng.dirichlet([1.0] * width, size=(views, n)).astype("float32")
    m = rng.beta(1.0, 1.0, size=(views, n)).astype("float32")
    depths = rng.integers(1, 4, size=(views, n, width))
    ops = rng.integers(0, len(OPERATIONS), size=(views, n, width, 3))
    levels = rng.uniform(0.1, severity, size=(views, n, width, 3)).astype("float32")
    signs = np.where(rng.random(size=(views, n, width, 3)) > 0.5, -1.0, 1.0)
    out = np.zeros((views, *x.shape), dtype=np.float32)
    for v in range(views):
        for i in range(n):
            picture = torch.from_numpy(np.round(np.clip(x[i], 0, 1) * 255).astype(np.uint8))
            mix = np.zeros(x.shape[1:], dtype=np.float32)
            for k in range(width):
                image = picture.clone()
                for step in range(depths[v, i, k]):
                    name = OPERATIONS[ops[v, i, k, step]][0]
                    image = _torchvision_op(name, image, float(levels[v, i, k, step]), signs[v, i, k, step])
                mix += weights[v, i, k] * image.numpy().astype(np.float32) / 255
            out[v, i] = (1 - m[v, i]) * x[i] + m[v, i] * mix
    return out.reshape(views * n, *x.shape[1:])


def test_a_batchs_views_equal_the_authors_loop_over_images_and_chains_with_the_same_draws() -> None:
    generator = torch.Generator().manual_seed(7)
    pixels = torch.rand(10, 3, 12, 12, generator=generator)
    draws = Draws(3)
    replay = copy.deepcopy(draws.numpy)
    ours = augmix_views(pixels, draws, views=2, alpha=1.0, width=3, depth=0, severity=3)
    expected = _authors_views(pixels.numpy(), replay, views=2, width=3, severity=3)
    np.testing.assert_allclose(ours.numpy(), expected, atol=2e-6, rtol=0)
    assert not torch.allclose(ours[:10], pixels)


def test_the_jensen_shannon_term_is_the_mean_kl_to_the_mixture_written_out() -> None:
    logits = torch.randn(3 * 4, 5, generator=torch.Generator().manual_seed(0)) * 3
    p = F.softmax(logits, dim=1).view(3, 4, 5).double().numpy()
    mixture = p.mean(0)
    expected = np.mean([sum(p[k, i] @ np.log(p[k, i] / mixture[i]) for k in range(3)) / 3 for i in range(4)])
    assert float(jensen_shannon(logits, 4)) == pytest.approx(expected, abs=1e-6)
    assert float(jensen_shannon(logits[:4].repeat(3, 1), 4)) == pytest.approx(0.0, abs=1e-6)


def _augmix(**options: object):  # type: ignore[no-untyped-def]
    config = method_config("augmix", **options)
    mean, std = torch.tensor([0.3, 0.4, 0.5]).view(3, 1, 1), torch.tensor([0.2, 0.25, 0.3]).view(3, 1, 1)
    context = MixContext(num_classes=5, device=torch.device("cpu"), train_size=64, normalisation=(mean, std))
    return build_mix_method(config, context), mean, std


@pytest.mark.parametrize("jsd", [True, False])
def test_the_batch_is_the_clean_images_and_views_normalised_with_the_authors_loss(jsd: bool) -> None:
    method, mean, std = _augmix(jsd=jsd, jsd_weight=12.0)
    generator = torch.Generator().manual_seed(1)
    pixels = torch.randint(0, 256, (6, 3, 10, 10), generator=generator).float() / 255
    x, y = (pixels - mean) / std, torch.randint(5, (6,), generator=generator)
    draws = Draws(5)
    replay = copy.deepcopy(draws)
    batch = method.mix(x, y, draws)
    views = augmix_views(pixels, replay, 2 if jsd else 1, 1.0, 3, 0, 3)
    logits = torch.randn(len(batch.inputs), 5, generator=generator)
    if jsd:
        assert batch.inputs.shape == (18, 3, 10, 10) and torch.equal(batch.inputs[:6], x)
        torch.testing.assert_close(batch.inputs[6:], (views - mean) / std, atol=1e-5, rtol=0)
        expected = F.cross_entropy(logits[:6], y) + 12 * jensen_shannon(logits, 6)
    else:
        torch.testing.assert_close(batch.inputs, (views - mean) / std, atol=1e-5, rtol=0)
        expected = F.cross_entropy(logits, y)
    torch.testing.assert_close(batch_loss(batch, logits), expected)


def test_augmix_without_the_normalisation_is_refused_in_one_line() -> None:
    context = MixContext(num_classes=5, device=torch.device("cpu"), train_size=64)
    with pytest.raises(ConfigError, match="augmix needs the inputs' normalisation"):
        build_mix_method(method_config("augmix"), context)


def test_augmix_passes_every_check() -> None:
    _, checks = check_method("augmix")
    assert [c.line() for c in checks if c.passed is False] == []
    assert {c.name for c in checks if c.passed} >= {"seeded", "resume", "resume in a trial", "off", "data"}
