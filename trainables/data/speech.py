"""Speech Commands (Section 3.3) as normalised spectrograms, 1 x 160 x 101, with a speaker-disjoint split.

Clips are read with soundfile (libsndfile: FLAC and WAV) from a folder of
``<label>/<speaker>_nohash_<n>.{wav,flac}``: the full dataset where a user has
it (``<data root>/speech_commands/``), or the v0.02 test set shipped here as
``speech-commands-v0.02-test-flac.tar.gz``. Each clip, at 16 kHz, gets a
short-time Fourier transform with 20 ms windows and 10 ms hops; its log power
is standardised per clip, the Nyquist bin dropped (160 frequencies) and the
frames zero-padded to 101 (one second). Clips at another rate are refused,
not resampled.

Split: the full dataset's own, when its folder has ``validation_list.txt`` and
``testing_list.txt`` (the clips they list are validation and test, the rest
training), as the dataset's authors define it. Otherwise (the shipped test-set
clips) each speaker goes wholly to training, validation or test, by a hash of
the speaker id (80 / 10 / 10): no voice is both learnt and tested. Clips with
no speaker (``_silence_``) are assigned by their file name.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from ._common import cached, missing
from ._splits import Source, Splits

SAMPLE_RATE = 16_000  # Hz
WINDOW = 320  # samples: 20 ms
HOP = 160  # samples: 10 ms
FREQUENCIES, FRAMES = 160, 101  # the paper's 160 x 101
SPLIT_PERCENT = (80, 10)  # training and validation shares of speakers; the rest is test
ARCHIVE = "speech-commands-v0.02-test-flac.tar.gz"
FOLDER = "speech_commands"


def speaker_of(path: Path) -> str:
    return path.stem.split("_nohash_")[0] if "_nohash_" in path.stem else f"{path.parent.name}/{path.stem}"


def split_of(speaker: str) -> str:
    """'train', 'val' or 'test' for every clip of a speaker: a fixed hash, not a random draw, so it never
    changes."""
    share = int(hashlib.sha1(speaker.encode()).hexdigest(), 16) % 100
    return "train" if share < SPLIT_PERCENT[0] else "val" if share < sum(SPLIT_PERCENT) else "test"


def spectrograms(waveforms: list[np.ndarray]) -> torch.Tensor:
    """Log power, standardised per clip, as (N, 160, 101): frequencies by 10 ms frames, zero past each clip's
    end.

    One batched STFT over clips zero-padded to a second; each clip's mean and
    std are taken over its own frames only.
    """
    length = SAMPLE_RATE
    batch = torch.zeros(len(waveforms), length)
    frames = torch.empty(len(waveforms), dtype=torch.int64)
    for i, waveform in enumerate(waveforms):
        clip = torch.from_numpy(np.asarray(waveform, dtype=np.float32))[:length]
        batch[i, : len(clip)] = clip
        frames[i] = min(FRAMES, 1 + len(clip) // HOP)
    out = torch.empty(len(waveforms), FREQUENCIES, FRAMES)
    # chunks: the complex STFT of every clip at once would take GBs
    for start in range(0, len(waveforms), 512):
        chunk = batch[start : start + 512]
        power = (
            torch.stft(
                chunk, n_fft=WINDOW, hop_length=HOP, window=torch.hann_window(WINDOW), return_complex=True
            )
            .abs()
            .square()
        )
        out[start : start + 512] = torch.log(power[:, :FREQUENCIES, :FRAMES] + 1e-10)
    valid = (torch.arange(FRAMES)[None, :] < frames[:, None])[:, None, :].expand_as(out)  # (N, F, T)
    count = valid.sum((1, 2)).clamp(min=1)
    mean = torch.where(valid, out, 0).sum((1, 2)) / count
    centred = torch.where(valid, out - mean[:, None, None], 0)
    std = (centred.square().sum((1, 2)) / count).sqrt()
    return centred / (std[:, None, None] + 1e-5)


def _read_tree(root: Path) -> Splits:
    import soundfile

    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_background"))
    if not classes:
        raise DatasetError(f"{root}: expected one folder of clips per label")
    clips = [
        (clip, label)
        for label, name in enumerate(classes)
        for clip in sorted(p for p in (root / name).iterdir() if p.suffix.lower() in (".wav", ".flac"))
    ]

    def read(clip: Path) -> np.ndarray:
        waveform, rate = soundfile.read(clip, dtype="float32")  # libsndfile decodes outside the GIL
        if rate != SAMPLE_RATE:
            raise DatasetError(f"{clip}: sampled at {rate} Hz, expected {SAMPLE_RATE}")
        return waveform if waveform.ndim == 1 else waveform.mean(1)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        waveforms = list(pool.map(read, (clip for clip, _ in clips), chunksize=64))
    x = spectrograms(waveforms).half()[:, None]  # half: 32 KB per clip in the cache
    y = torch.tensor([label for _, label in clips], dtype=torch.int64)
    split = np.array(
        _listed_split(root, [clip for clip, _ in clips]) or [split_of(speaker_of(clip)) for clip, _ in clips]
    )
    parts = {name: torch.from_numpy(np.flatnonzero(split == name)) for name in ("train", "val", "test")}
    if any(len(index) == 0 for index in parts.values()):
        raise DatasetError(f"{root}: too few speakers for a training, validation and test split")
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        (x[parts[n]], y[parts[n]]) for n in ("train", "val", "test")
    )
    return Splits(x_train, y_train, x_test, y_test, len(classes), x_val, y_val)


def _listed_split(root: Path, clips: list[Path]) -> list[str] | None:
    """'train', 'val' or 'test' per clip from the dataset's own lists, or None when the folder has none."""
    lists = {"val": root / "validation_list.txt", "test": root / "testing_list.txt"}
    if not all(path.is_file() for path in lists.values()):
        return None
    listed = {
        line.strip(): split
        for split, path in lists.items()
        for line in path.read_text().splitlines()
        if line.strip()
    }
    return [listed.get(clip.relative_to(root).as_posix(), "train") for clip in clips]


def _speech_commands(source: Source) -> Splits:
    """Google Speech Commands: a folder of label folders, or the v0.02 test-set archive."""
    tree, archive = source.data_root / FOLDER, source.data_root / ARCHIVE
    if tree.is_dir():
        return cached(source, "speech_commands", tree, lambda: _read_tree(tree))
    if not archive.exists():
        raise missing("speech_commands", f"{tree}/<label>/<clip>.wav or {archive}")

    def build() -> Splits:
        with tempfile.TemporaryDirectory() as directory:
            with tarfile.open(archive) as tar:
                tar.extractall(directory, filter="data")
            tops = [p for p in Path(directory).iterdir() if p.is_dir()]
            return _read_tree(tops[0] if len(tops) == 1 else Path(directory))

    return cached(source, "speech_commands", archive, build)
