"""``evaluation``: what a classifier trial measures beyond its errors (issue 31), in a sweep file as
``evaluation: {calibration: true, corruptions: all, ood: [noise]}``.

Calibration is cheap (it reuses the test and validation logits) and runs every epoch; corruptions and
out-of-distribution sets cost a pass over each, so they run once, after the last epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalogue import DATASETS
from ._checks import FORBID_EXTRA, check_own_types, normalise_types, require

SEVERITIES = (1, 2, 3, 4, 5)  # CIFAR-10-C's
NOISE_OOD = "noise"  # uniform random pixels (or features), a floor any detector should clear


@dataclass
class EvaluationConfig:
    __pydantic_config__ = FORBID_EXTRA

    # each epoch: adaptive and classwise ECE and the Brier score; with a validation split, temperature scaling
    # fit on it (log T) and every calibration metric again after scaling
    calibration: bool = True
    # after the last epoch: the test images corrupted (trainables.image_corruptions), by name, or "all"
    corruptions: tuple[str, ...] = ()
    severities: tuple[int, ...] = SEVERITIES  # of each corruption
    corruption_images: int | None = None  # the first this many test images are corrupted; None: all
    # after the last epoch: out-of-distribution sets, each a dataset's test split by name, or "noise"
    ood: tuple[str, ...] = ()
    ood_images: int = 2000  # examples of each out-of-distribution set (the first of its test split)

    def __post_init__(self) -> None:
        check_own_types(self)
        normalise_types(self)
        if self.corruptions:
            from ..image_corruptions import names

            known = names()
            for name in self.corruptions:
                require(
                    name == "all" or name in known,
                    "evaluation.corruptions",
                    f"unknown corruption {name!r}; known: all, {', '.join(known)}",
                )
        require(
            bool(self.severities) and all(s in SEVERITIES for s in self.severities),
            "evaluation.severities",
            f"must be some of 1, 2, 3, 4, 5; got {self.severities}",
        )
        require(
            self.corruption_images is None or self.corruption_images >= 1,
            "evaluation.corruption_images",
            f"must be >= 1; got {self.corruption_images}",
        )
        require(self.ood_images >= 1, "evaluation.ood_images", f"must be >= 1; got {self.ood_images}")
        for name in self.ood:
            require(
                name == NOISE_OOD or name in DATASETS,
                "evaluation.ood",
                f"{NOISE_OOD} or a dataset; {DATASETS.unknown(name)}",
            )

    def corruption_names(self) -> tuple[str, ...]:
        """The corruptions to run, ``all`` expanded."""
        if "all" not in self.corruptions:
            return self.corruptions
        from ..image_corruptions import names

        return tuple(names())
