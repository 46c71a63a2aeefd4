"""Speech Commands (Section 3.3): spectrograms from real clips, a speaker-disjoint split, LeNet and VGG-11,
ERM warm-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from trainables import DatasetError, TrainConfig, load_data, train
from trainables.data.speech import FRAMES, SAMPLE_RATE, speaker_of, split_of
from trainables.models import build_model


def test_the_shipped_test_set_becomes_normalised_spectrograms_split_by_speaker(datasets_dir: Path) -> None:
    data = load_data("speech_commands", data_root=datasets_dir)
    sizes = [len(data.y_train), len(data.y_val), len(data.y_test)]
    assert sum(sizes) == 4890 and data.num_classes == 12 and data.input_shape == (1, 160, 101)
    assert 0.7 < sizes[0] / 4890 < 0.9 and min(sizes[1:]) > 200  # 80/10/10 of the speakers
    for split in (data.y_train, data.y_val, data.y_test):
        assert set(split.tolist()) == set(range(12))
    clips = data.x_test[:50, 0].float()
    assert torch.allclose(clips.mean((1, 2)), torch.zeros(50), atol=1e-2) and torch.allclose(
        clips.std((1, 2)), torch.ones(50), atol=1e-2
    )


def test_a_speakers_clips_all_go_to_one_split() -> None:
    clips = [
        Path(f"{word}/{speaker}_nohash_{n}.wav")
        for word in ("yes", "no")
        for speaker in ("0a7c2a8d", "ffd2ba2f", "3c4aa5ef")
        for n in range(3)
    ]
    by_speaker: dict[str, set[str]] = {}
    for clip in clips:
        by_speaker.setdefault(speaker_of(clip), set()).add(split_of(speaker_of(clip)))
    assert sorted(by_speaker) == ["0a7c2a8d", "3c4aa5ef", "ffd2ba2f"] and all(
        len(splits) == 1 for splits in by_speaker.values()
    )
    shares = [split_of(f"speaker{i}") for i in range(3000)]
    assert 0.77 < shares.count("train") / 3000 < 0.83 and 0.08 < shares.count("val") / 3000 < 0.12


def _write_tree(root: Path, rate: int = SAMPLE_RATE) -> None:
    generator = np.random.default_rng(0)
    for word, frequency in (("yes", 300.0), ("no", 900.0)):
        (root / "speech_commands" / word).mkdir(parents=True)
        for i in range(12):
            seconds = 0.5 if i == 0 else 1.0  # one short clip: its spectrogram is zero-padded
            t = np.arange(int(seconds * rate)) / rate
            wave = 0.3 * np.sin(2 * np.pi * frequency * t) + 0.01 * generator.standard_normal(len(t))
            soundfile.write(
                root / "speech_commands" / word / f"spk{i:02d}_nohash_0.wav", wave.astype(np.float32), rate
            )


def test_a_folder_of_wav_clips_is_read_and_short_clips_are_zero_padded(
    tmp_path: Path, isolated_cache: Path
) -> None:
    _write_tree(tmp_path)
    data = load_data("speech_commands", data_root=tmp_path)
    x = torch.cat([data.x_train, data.x_val, data.x_test]).float()
    assert len(x) == 24 and data.num_classes == 2
    padded = (x[:, 0] == 0).all(1).sum(1)  # all-zero frames per clip
    assert sorted(padded.tolist())[-2:] == [FRAMES - 51] * 2 and (padded[padded != FRAMES - 51] == 0).all()


def test_the_full_datasets_own_lists_give_its_validation_and_test_split(
    tmp_path: Path, isolated_cache: Path
) -> None:
    """validation_list.txt and testing_list.txt, as the full dataset ships them: what they list is validation
    and test."""
    _write_tree(tmp_path)
    tree = tmp_path / "speech_commands"
    (tree / "validation_list.txt").write_text("yes/spk00_nohash_0.wav\nno/spk01_nohash_0.wav\n")
    (tree / "testing_list.txt").write_text(
        "yes/spk02_nohash_0.wav\nno/spk03_nohash_0.wav\nno/spk04_nohash_0.wav\n"
    )
    data = load_data("speech_commands", data_root=tmp_path)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (19, 2, 3)
    assert data.y_val.tolist() == [0, 1] and data.y_test.tolist() == [0, 0, 1], (
        "classes sorted (no = 0, yes = 1), clips by class"
    )


def test_a_clip_at_another_rate_and_a_missing_dataset_are_named(tmp_path: Path, isolated_cache: Path) -> None:
    with pytest.raises(DatasetError, match="speech_commands.*speech-commands-v0.02-test-flac.tar.gz"):
        load_data("speech_commands", data_root=tmp_path)
    _write_tree(tmp_path, rate=8000)
    with pytest.raises(DatasetError, match="sampled at 8000 Hz, expected 16000"):
        load_data("speech_commands", data_root=tmp_path)


@pytest.mark.parametrize("name", ["lenet", "vgg11"])
def test_the_speech_networks_take_a_spectrogram(name: str) -> None:
    model = build_model(name, (1, 160, 101), 12)
    assert model(torch.randn(2, 1, 160, 101)).shape == (2, 12)
    if name == "vgg11":
        with pytest.raises(ValueError, match="at least 32 x 32"):
            build_model(name, (1, 8, 8), 10)


def test_mixup_starts_after_the_erm_warm_up() -> None:
    options = dict(dataset="digits", model="mlp", epochs=3, batch_size=64, seed=4, device="cpu")
    erm = train(TrainConfig(**options)).history
    warm = train(TrainConfig(**options, alpha=1.0, mixup_warmup_epochs=2)).history
    assert warm[:2] == erm[:2], "the warm-up epochs are ERM, draw for draw"
    assert warm[2]["train_loss"] != erm[2]["train_loss"]


@pytest.mark.integration
def test_a_tiny_speech_sweep_reports_validation_and_test_error_beside_figure4(
    tmp_path: Path, datasets_dir: Path
) -> None:
    from helpers import run_and_analyze

    run_and_analyze(
        tmp_path,
        "name: speech-tiny\nstudy: speech\ntrainable: "
        f"{{dataset: speech_commands, data_root: {datasets_dir}, model: lenet, train_subset: 300, "
        "epochs: 2, mixup_warmup_epochs: 1, batch_size: 100, optimizer: {name: adam, lr: 3.0e-3, "
        "weight_decay: 0.0}}\n"
        "search: {alpha: [0, 0.2], seed: [0]}\nresources: {cpu: 1, gpu: 0}\n",
    )
    table = pd.read_csv(tmp_path / "out" / "speech.csv")
    assert list(table["alpha"]) == [0.0, 0.2] and (table["val_error_mean"].between(0, 100)).all()
    assert table["paper_test_error"].isna().all(), "2 epochs are not Figure 4's 30"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Speech commands (Section 3.3, Figure 4)" in report and "after 1 ERM epoch(s)" in report
