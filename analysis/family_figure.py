"""A picture of what each mixing method does to the same images: ``docs/mixup-family.png``.

    python -m analysis.family_figure docs/mixup-family.png          # CIFAR-10 from the offline datasets
    python -m analysis.family_figure out.png --dataset fashion_mnist --seed 3

Row by row: the image, its partner, then each method's mixed image (one draw, the trial's generators at
``--seed``), titled with the own label's weight; AugMix's first view of the image (no partner), and
PuzzleMix's blocks chosen by an untrained CNN's saliency. For a reader to judge that masks look as their
papers draw them; the numbers are held by tests/trainables/test_family.py and the others.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from trainables import build_model, load_data
from trainables.conformance import method_config
from trainables.mixing import Draws, MixContext, build_mix_method

METHODS = (
    "mixup",
    "cutmix",
    "fmix",
    "resizemix",
    "smoothmix",
    "saliencymix",
    "puzzlemix",
    "randommix",
    "augmix",
)


def mixed_examples(
    dataset: str, seed: int, pairs: int = 3
) -> tuple[torch.Tensor, dict[str, list[tuple[torch.Tensor, float]]]]:
    """``pairs`` images then their partners (2 * pairs, C, H, W, scaled to [0, 1] for display), and for each
    method the mixed image of each pair with the own label's weight.

    Each pair is mixed in a batch of 32 whose first image is the pair's image and the rest its partner, so
    that whatever partner the method's draws choose for it is that image (or itself, at 1 in 32); the mask,
    lambda and box are the method's own draws, from ``Draws(seed + pair)``.
    """
    splits = load_data(dataset, train_subset=200)
    x = torch.as_tensor(splits.x_train[: 2 * pairs]).float()
    x = (x - x.amin()) / (x.amax() - x.amin())  # every method is linear in the pixels or copies them
    y = torch.as_tensor(splits.y_train[: 2 * pairs]).long()
    results: dict[str, list[tuple[torch.Tensor, float]]] = {}
    torch.manual_seed(seed)  # PuzzleMix's saliency is an untrained CNN's: its weights from this seed
    context = MixContext(
        num_classes=10,
        device=torch.device("cpu"),
        train_size=32,
        model=build_model("cnn", tuple(x.shape[1:]), 10),
        normalisation=(torch.zeros(x.shape[1], 1, 1), torch.ones(x.shape[1], 1, 1)),  # x is in [0, 1]
    )
    for name in METHODS:
        method = build_mix_method(method_config(name), context)
        results[name] = []
        for pair in range(pairs):
            batch_x = torch.cat(
                [x[pair : pair + 1], x[pair + pairs : pair + pairs + 1].expand(31, -1, -1, -1)]
            )
            batch_y = torch.cat([y[pair : pair + 1], y[pair + pairs : pair + pairs + 1].expand(31)])
            batch = method.mix(batch_x, batch_y, Draws(seed + pair))
            shown = len(batch_x) if name == "augmix" else 0  # AugMix's first view, after the clean batch
            results[name].append((batch.inputs[shown], float(batch.weight_tensor()[shown, 0])))
    return x, results


def draw(dataset: str, seed: int, path: Path, pairs: int = 3) -> None:
    x, results = mixed_examples(dataset, seed, pairs)
    columns = 2 + len(METHODS)
    figure, axes = plt.subplots(pairs, columns, figsize=(1.1 * columns, 1.4 * pairs + 0.2), squeeze=False)
    for row in range(pairs):
        images = [("image", x[row]), ("partner", x[row + pairs])]
        images += [(name, results[name][row][0]) for name in METHODS]
        for column, (title, image) in enumerate(images):
            axis = axes[row][column]
            shown = image.permute(1, 2, 0).clamp(0, 1).numpy()
            axis.imshow(shown.squeeze(-1) if shown.shape[-1] == 1 else shown, cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(title, fontsize=7)
            if column >= 2:
                axis.set_xlabel(f"own {results[title][row][1]:.2f}", fontsize=6, labelpad=1)
    figure.suptitle(f"the mixup family on {dataset} (seed {seed})", fontsize=8)
    figure.tight_layout(pad=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=200)
    if path.suffix == ".png":
        figure.savefig(path.with_suffix(".pdf"))
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    draw(args.dataset, args.seed, args.path)
    print(f"wrote {args.path}")


if __name__ == "__main__":
    main()
