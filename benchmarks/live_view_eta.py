"""The live view's ETA against the real end, read from a terminal recording.

Runs a sweep in a detached tmux pane (a real terminal: the live view redraws
in place there), captures the pane every second with ``tmux capture-pane``,
and reads back from each frame the sweep's counts and ETA. It reports the ETA
read at half the sweep's wall time, and when half the trials had finished,
against the time the sweep really took from there.

    python benchmarks/live_view_eta.py --out /tmp/eta           # the quickstart, with 300 epochs a trial
    python benchmarks/live_view_eta.py --out /tmp/eta -- run sweeps/quickstart.yaml --set trainable.epochs=100

Needs tmux (Debian's ``tmux``). The frames are written to ``--out`` as text.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "mixup-tune")
DEFAULT = [
    "run",
    str(REPO / "sweeps/quickstart.yaml"),
    "--set",
    "trainable.epochs=300",
    "--name",
    "quickstart-eta",
]
_LINE = re.compile(r"sweep \S+: (\d+)/(\d+) finished.*?ETA (\?|[\dhmins ]+?)(?:, ends|$)", re.S)


def seconds(text: str) -> float | None:
    """``1 h 05 min``, ``4 min 10 s``, ``12 s`` back to seconds (``progress.duration``'s forms)."""
    if text.strip() == "?":
        return None
    units = {"h": 3600, "min": 60, "s": 1}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+) (h|min|s)\b", text)))


def record(command: list[str], out: Path, workdir: Path) -> tuple[list[tuple[float, str]], float]:
    """Frames (seconds since start, pane text) until the command ends, and its wall time."""
    session = f"eta{int(time.time())}"
    done = workdir / "exit_code"
    shell = f"cd {workdir} && {' '.join(command)}; echo $? > {done}; sleep 3600"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "140", "-y", "40", shell], check=True)
    started = time.monotonic()
    frames: list[tuple[float, str]] = []
    try:
        while not done.exists():
            pane = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            frames.append((time.monotonic() - started, pane))
            time.sleep(1.0)
        wall = time.monotonic() - started
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    for number, (at, pane) in enumerate(frames):
        (out / f"frame_{number:04d}.txt").write_text(f"t = {at:.1f} s\n{pane}")
    return frames, wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the frames and the summary")
    parser.add_argument(
        "command", nargs="*", help="mixup-tune arguments (default: the quickstart, 300 epochs)"
    )
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("needs tmux (apt-get install tmux)")
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = args.out / "work"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    frames, wall = record([CLI, *(args.command or DEFAULT)], args.out, workdir)
    readings = []  # (t, finished, total, eta)
    for at, pane in frames:
        match = _LINE.search(" ".join(pane.split("\n")))
        if match:
            readings.append((at, int(match[1]), int(match[2]), seconds(match[3])))
    if not readings:
        sys.exit(f"no live view line in {len(frames)} frames; see {args.out}")
    summary: dict[str, object] = {"wall_s": round(wall, 1), "frames": len(frames)}
    total = readings[-1][2]
    # the trials' end: the first frame (a second apart) with every trial finished
    end = min((at for at, finished, _, _ in readings if finished == total), default=wall)
    picks = {
        "at half the wall time": min(readings, key=lambda r: abs(r[0] - end / 2)),
        "when half the trials had finished": next(r for r in readings if r[1] >= total / 2),
    }
    for label, (at, finished, _, eta) in picks.items():
        left = end - at
        summary[label] = {
            "t_s": round(at, 1),
            "finished": f"{finished}/{total}",
            "eta_s": eta,
            "real_remaining_s": round(left, 1),
            "error": None if eta is None else round((eta - left) / left, 3),
        }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
