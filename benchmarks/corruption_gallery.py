"""CIFAR-10-C's corruptions as regenerated here (``trainables.image_corruptions``): a gallery, and their cost.

    python benchmarks/corruption_gallery.py                # docs/corruptions-severity3.{png,pdf}, -severities
    python benchmarks/corruption_gallery.py --timing 1000  # seconds per corruption, 1,000 images, severity 3

The gallery shows two CIFAR-10 test images and one Fashion-MNIST test image, clean and under each corruption
built at severity 3, enlarged 8 times with nearest-neighbour so that single pixels show; a second figure
shows three corruptions across severities 1 to 5. The images come from the offline datasets
(``$MIXUP_TUNE_DATA``, else ``../shared/datasets``): ``cifar10-jpg.tar.gz`` and
``fashion-mnist/t10k-images-idx3-ubyte.gz``. They are seeded as images 0, 1 and 2 of a three-image set.

``--timing N`` times each corruption on the first N CIFAR-10 test images of the archive at severity 3, with
one process and with two (``workers=2``: a pool of spawned processes, whose start-up is in the time), as the
median of ``--rounds`` runs, and prints a Markdown table (``--json PATH`` also writes it).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from trainables.image_corruptions import LEFT_OUT, corrupt, names

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REPO = Path(__file__).resolve().parents[1]
GALLERY_CIFAR = ("cifar10-jpg/test/bird/0003.jpg", "cifar10-jpg/test/truck/0002.jpg")
ACROSS_SEVERITIES = ("motion_blur", "snow", "fog")
ENLARGE = 8
LABELS = {
    "gaussian_noise": "Gaussian noise",
    "shot_noise": "shot noise",
    "impulse_noise": "impulse noise",
    "defocus_blur": "defocus blur",
    "glass_blur": "glass blur",
    "motion_blur": "motion blur",
    "zoom_blur": "zoom blur",
    "snow": "snow",
    "fog": "fog",
    "brightness": "brightness",
    "contrast": "contrast",
    "elastic_transform": "elastic",
    "pixelate": "pixelate",
    "jpeg_compression": "JPEG",
}


def datasets() -> Path:
    return Path(os.environ.get("MIXUP_TUNE_DATA") or REPO.parent / "shared" / "datasets")


def cifar_images(archive: Path, members: tuple[str, ...] = (), first: int = 0) -> np.ndarray:
    """The named test images, in that order, or else the first ``first`` test images of the archive
    (channel-first uint8). Test images come first in the archive, so neither reads it all."""
    found: dict[str, np.ndarray] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            wanted = member.name in members if members else "/test/" in member.name
            if member.isfile() and member.name.endswith(".jpg") and wanted:
                file = tar.extractfile(member)
                assert file is not None
                found[member.name] = np.asarray(Image.open(file).convert("RGB"))
                if len(found) == (len(members) or first):
                    break
    images = [found[name] for name in members] if members else list(found.values())
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))


def fashion_image(path: Path, index: int = 0) -> np.ndarray:
    """One Fashion-MNIST test image, (1, 1, 28, 28) uint8, from the idx file (16-byte header)."""
    with gzip.open(path, "rb") as file:
        file.seek(16 + 28 * 28 * index)
        pixels = np.frombuffer(file.read(28 * 28), dtype=np.uint8)
    return pixels.reshape(1, 1, 28, 28).copy()


def _show(axis: Axes, image: np.ndarray, title: str) -> None:
    """One panel: the (C, H, W) image enlarged by repetition, so every viewer shows square pixels."""
    big = np.repeat(np.repeat(image, ENLARGE, axis=1), ENLARGE, axis=2)
    if big.shape[0] == 1:
        axis.imshow(big[0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        axis.imshow(big.transpose(1, 2, 0), interpolation="nearest")
    axis.set_title(title, fontsize=7, pad=2)
    axis.set_axis_off()


def _fit(figure: Figure) -> None:
    """Tight panels, with room for the title above the first row's labels."""
    height = figure.get_figheight()
    figure.tight_layout(pad=0.3, h_pad=0.4, w_pad=0.2, rect=(0, 0, 1, 1 - 0.12 / height))


def gallery(images: list[np.ndarray], out: Path) -> list[Path]:
    """Each image clean and under each corruption at severity 3: 8 columns, two rows per image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = ["clean", *names()]
    columns, rows_per_image = 8, 2
    figure, axes = plt.subplots(
        rows_per_image * len(images), columns, figsize=(7.2, 1.0 * rows_per_image * len(images) + 0.3)
    )
    for k, image in enumerate(images):
        corrupted = {name: corrupt(image, name, 3, indices=[k]) for name in names()}
        for slot in range(columns * rows_per_image):
            axis = axes[rows_per_image * k + slot // columns, slot % columns]
            if slot < len(panels):
                name = panels[slot]
                _show(axis, image[0] if name == "clean" else corrupted[name][0], LABELS.get(name, name))
            else:
                axis.set_axis_off()
                label = "\n".join(f"{n}:\nleft out" for n in LEFT_OUT)
                axis.text(0.5, 0.5, label, ha="center", va="center", fontsize=7)
    figure.suptitle("CIFAR-10-C corruptions, regenerated, severity 3 (of 5)", fontsize=9)
    _fit(figure)
    written = [out / "corruptions-severity3.png", out / "corruptions-severity3.pdf"]
    figure.savefig(written[0], dpi=150)
    figure.savefig(written[1])
    plt.close(figure)
    return written


def across_severities(image: np.ndarray, out: Path) -> Path:
    """Three corruptions on one image, clean and at severities 1 to 5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(ACROSS_SEVERITIES), 6, figsize=(6.0, 1.05 * len(ACROSS_SEVERITIES) + 0.3))
    for row, name in enumerate(ACROSS_SEVERITIES):
        _show(axes[row, 0], image[0], "clean")
        for severity in range(1, 6):
            title = f"{LABELS[name]}, {severity}"
            _show(axes[row, severity], corrupt(image, name, severity, indices=[0])[0], title)
    figure.suptitle("Across severities 1 to 5 (regenerated)", fontsize=9)
    _fit(figure)
    written = out / "corruptions-severities.png"
    figure.savefig(written, dpi=150)
    plt.close(figure)
    return written


def timing(images: np.ndarray, rounds: int) -> dict[str, dict[str, float]]:
    """Median seconds per corruption at severity 3, one process and two."""
    results: dict[str, dict[str, float]] = {}
    for name in names():
        runs: dict[str, list[float]] = {"workers=1": [], "workers=2": []}
        for _ in range(rounds):
            for workers in (1, 2):
                start = time.perf_counter()
                corrupt(images, name, 3, workers=workers)
                runs[f"workers={workers}"].append(time.perf_counter() - start)
        results[name] = {label: statistics.median(times) for label, times in runs.items()}
        print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    corrupt(images[:2], "contrast", 3, workers=2)
    results["pool start-up (2 images, contrast)"] = {"workers=2": time.perf_counter() - start}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the figures")
    parser.add_argument("--timing", type=int, metavar="N", help="time N images instead of drawing")
    parser.add_argument("--rounds", type=int, default=3, help="timing runs per corruption (median)")
    parser.add_argument("--json", type=Path, help="also write the timings here")
    args = parser.parse_args()
    root = datasets()
    archive = root / "cifar10-jpg.tar.gz"
    if not archive.is_file():
        sys.exit(f"corruption_gallery: no CIFAR-10 archive at {archive}; set MIXUP_TUNE_DATA")
    if args.timing:
        load_before = os.getloadavg()[0]
        results = timing(cifar_images(archive, first=args.timing), args.rounds)
        # What else ran meanwhile: the times are only as good as the machine was quiet.
        results["load average (1 min), before and after"] = {
            "before": load_before,
            "after": os.getloadavg()[0],
        }
        print(f"| corruption | workers=1 (s per {args.timing:,}) | workers=2 |\n|---|---|---|")
        for name, row in results.items():
            cells = [f"{row[k]:.2f}" if k in row else "-" for k in ("workers=1", "workers=2")]
            if "before" in row:
                cells = [f"{row['before']:.2f}", f"{row['after']:.2f}"]
            print(f"| {name} | {cells[0]} | {cells[1]} |")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return
    cifar = cifar_images(archive, GALLERY_CIFAR)
    images = [cifar[k : k + 1] for k in range(len(cifar))]
    fashion = root / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    if fashion.is_file():
        images.append(fashion_image(fashion))
    args.out.mkdir(parents=True, exist_ok=True)
    for path in [*gallery(images, args.out), across_severities(images[0], args.out)]:
        print(path)


if __name__ == "__main__":
    main()
