"""What a classifier trial measures beyond its errors (``TrainConfig.evaluation``, issue 31).

- each epoch, from the logits the errors were measured on: adaptive and classwise ECE and the Brier score
  on the unmixed test set; with a validation split, the temperature fit on it by NLL (``log_temperature``)
  and every calibration metric again after scaling (``_scaled``), with the validation NLL before and after;
- after the last epoch, where asked: the test images corrupted (``trainables.image_corruptions``: error,
  NLL and ECE per corruption and severity, their means, and the drop from clean), and out-of-distribution
  sets (``trainables.ood``: AUROC, AUPR-In and FPR at 95% TPR of each score).

Every name here is a metric MLflow records as it is; ``ADDED_KEYS`` lists the per-epoch ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..calibration import calibration
from ..calibration_scores import adaptive_ece, brier, classwise_ece, fit_temperature, nll, scaled
from ..ood import ood_metrics
from ._common import Metrics, percent_wrong

# per-epoch keys (with calibration on), beside test_ece, test_nll and test_confidence
ADDED_KEYS = (
    "test_adaptive_ece",
    "test_classwise_ece",
    "test_brier",
    "log_temperature",
    "val_nll",
    "val_nll_scaled",
    "test_ece_scaled",
    "test_adaptive_ece_scaled",
    "test_classwise_ece_scaled",
    "test_brier_scaled",
    "test_nll_scaled",
)


def _scores(logits: Tensor, labels: Tensor, suffix: str = "") -> Metrics:
    probabilities = F.softmax(logits.double(), dim=1)
    confidence, predicted = probabilities.max(1)
    right = (predicted == labels).double()
    return {
        f"test_adaptive_ece{suffix}": adaptive_ece(confidence, right),
        f"test_classwise_ece{suffix}": classwise_ece(probabilities, labels),
        f"test_brier{suffix}": brier(probabilities, labels),
    }


def calibration_metrics(
    test_logits: Tensor, test_labels: Tensor, val_logits: Tensor | None, val_labels: Tensor | None
) -> Metrics:
    """The unscaled scores beyond ECE and NLL; with a validation split, the fitted temperature and every
    score after scaling."""
    metrics = _scores(test_logits, test_labels)
    if val_logits is None or val_labels is None or not len(val_labels):
        return metrics
    temperature = fit_temperature(val_logits, val_labels)
    rescaled = scaled(test_logits.double(), temperature)
    equal_width, _ = calibration(rescaled, test_labels)
    metrics.update(
        log_temperature=math.log(temperature),
        val_nll=nll(val_logits.double(), val_labels),
        val_nll_scaled=nll(val_logits.double(), val_labels, temperature),
        test_ece_scaled=equal_width["test_ece"],
        test_nll_scaled=equal_width["test_nll"],
        **_scores(rescaled, test_labels, "_scaled"),
    )
    return metrics


def shift_metrics(logits: Tensor, labels: Tensor, prefix: str) -> Metrics:
    """Error, NLL and 15-bin ECE of one shifted test set, under ``prefix``."""
    equal_width, _ = calibration(logits, labels)
    return {
        f"{prefix}_error": percent_wrong(logits.argmax(1) != labels),
        f"{prefix}_nll": equal_width["test_nll"],
        f"{prefix}_ece": equal_width["test_ece"],
    }


def corruption_metrics(
    clean: Metrics,
    labels: Tensor,
    names: tuple[str, ...],
    severities: tuple[int, ...],
    corrupted: Callable[[str, int], Tensor],
    logits_of: Callable[[Tensor], Tensor],
) -> Metrics:
    """``corruption/<name>/<severity>_{error,nll,ece}`` for each corruption and severity of the test images
    (``corrupted(name, severity)`` gives them as stored, in the order of ``labels``), then each corruption's
    mean over severities, the mean over all (``corruption_error``, ``_nll``, ``_ece``) and its rise over the
    same clean images (``corruption_error_drop``). ``clean`` holds the clean images'
    ``corruption_clean_error`` etc."""
    metrics: Metrics = {}
    for name in names:
        for severity in severities:
            metrics.update(
                shift_metrics(logits_of(corrupted(name, severity)), labels, f"corruption/{name}/{severity}")
            )
        for measure in ("error", "nll", "ece"):
            values = [metrics[f"corruption/{name}/{severity}_{measure}"] for severity in severities]
            metrics[f"corruption/{name}_{measure}"] = sum(values) / len(values)
    for measure in ("error", "nll", "ece"):
        values = [metrics[f"corruption/{name}_{measure}"] for name in names]
        metrics[f"corruption_{measure}"] = sum(values) / len(values)
    metrics.update(clean)
    metrics["corruption_error_drop"] = metrics["corruption_error"] - clean["corruption_clean_error"]
    return metrics


def ood_report(in_logits: Tensor, out_logits: Tensor, name: str) -> Metrics:
    """``ood/<name>/<score>_{auroc,aupr,fpr95}``: each score's detection of ``out_logits`` among
    ``in_logits``, in percent (``trainables.ood.ood_metrics``)."""
    return {
        f"ood/{name}/{key.removeprefix('ood_')}": value
        for key, value in ood_metrics(in_logits, out_logits).items()
    }


def noise_images(like: Tensor, count: int, seed: int) -> Tensor:
    """``count`` noise examples stored as ``like`` (the training examples) are, from a generator of their own:
    uniform random pixels for uint8 images; for features, Gaussian noise with each feature's training mean and
    standard deviation, which normalisation turns into standard normal inputs."""
    generator = torch.Generator().manual_seed(seed)
    shape = (count, *like.shape[1:])
    if like.dtype == torch.uint8:
        return torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
    features = like.double().cpu()
    mean, std = features.mean(0), features.std(0)
    return (mean + std * torch.randn(shape, generator=generator, dtype=torch.float64)).to(like.dtype)


def as_stored_images(images: Tensor, shape: tuple[int, ...]) -> Tensor:
    """uint8 images (N, C, H, W) as another dataset's are stored: grey repeated to colour or colour
    averaged to grey, then resized (bilinear, antialiased) to its side. An out-of-distribution set then
    differs from the test set in content, not in format."""
    channels, height, width = shape
    x = images.float()
    if x.shape[1] != channels:
        x = x.mean(1, keepdim=True).expand(-1, channels, -1, -1) if channels in (1, 3) else x
    if tuple(x.shape[2:]) != (height, width):
        x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)
