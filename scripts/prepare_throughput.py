"""Preparation throughput and memory (issue: real benchmarks). Prints figures; asserts nothing.

  python scripts/prepare_throughput.py [--videos 200] [--scale 10] [--work /tmp/tsgf-perf]

1. Encodes `--videos` short videos (48 frames, 320x240, MPEG-4 in .avi, like UCF101's) in the folder layout.
2. Prepares them with the MiniUCF clip recipe (16 frames, 160x120 -> 112x112) with 1 and 2 decoding threads, and
   decodes the same files with PyAV alone (every frame to RGB, one thread: what a plain loader does), all in this
   run, so the ratio is our overhead (or saving: we convert only the 16 frames a clip keeps).
3. Prepares a dataset `--scale` times larger (symlinks to the same videos) in a fresh process and compares the peak
   resident memory of the two preparation processes: it should stay flat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np

CLASSES = ["a", "b", "c", "d"]
SPEC = {"frames": 16, "sampling": "stride", "stride": 4, "fps": 2.0, "train_start": "random",
        "resize": [160, 120], "crop": 112}


def encode(path: Path, seed: int, frames: int = 48, size: tuple[int, int] = (320, 240)) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for t in range(frames):
            image = np.roll(base, 3 * t, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_dataset(root: Path, videos: list[Path], copies: int) -> None:
    for copy in range(copies):
        for number, video in enumerate(videos):
            target = root / CLASSES[number % len(CLASSES)] / f"v{copy:03d}_{number:04d}.avi"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(video, target)


def prepare(root: Path, out: Path, threads: int) -> dict:
    params = {"name": "perf", "layout": "folder", "root": str(root), "split": 1, "classes": "all",
              "hmdb51_train": "all_non_test", "folder": {"split_file": None, "test_fraction": 0.2, "seed": 0},
              "clip": SPEC, "normalisation": "imagenet"}
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "tsgf", "prepare_dataset", "--params", json.dumps(params), "--out",
                          str(out), "--threads", str(threads)], capture_output=True, text=True)
    if run.returncode:
        sys.exit(run.stderr)
    meta = json.loads((out / "meta.json").read_text())
    return {**meta["preparation"], "process_seconds": time.perf_counter() - start,
            "ok": sum(meta["counts"].values())}


def pyav_alone(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frame.to_ndarray(format="rgb24")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=200)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path("/tmp/tsgf-perf"))
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    (args.work / "videos").mkdir(parents=True)
    videos = [args.work / "videos" / f"{i:04d}.avi" for i in range(args.videos)]
    for seed, path in enumerate(videos):
        encode(path, seed)
    make_dataset(args.work / "small", videos, 1)
    make_dataset(args.work / "large", videos, args.scale)

    rows = []
    for threads in (1, 2):
        result = prepare(args.work / "small", args.work / f"prepared-small-{threads}", threads)
        rows.append((f"tsgf prepare, {threads} thread(s)", args.videos, result["seconds"], result["peak_rss_mb"]))
    alone = pyav_alone(videos)
    rows.append(("PyAV alone (decode every frame to RGB), 1 thread", args.videos, alone, float("nan")))
    large = prepare(args.work / "large", args.work / "prepared-large", 2)
    rows.append((f"tsgf prepare, 2 threads, {args.scale}x dataset", args.videos * args.scale, large["seconds"],
                 large["peak_rss_mb"]))

    print(f"{'what':<52} {'clips':>6} {'seconds':>8} {'clips/s':>8} {'peak RSS MiB':>13}")
    for name, clips, seconds, rss in rows:
        print(f"{name:<52} {clips:>6} {seconds:>8.2f} {clips / seconds:>8.1f} {rss:>13.0f}")
    one_thread = rows[0][2]
    print(f"\nours / PyAV alone, 1 thread: {alone / one_thread:.2f}x the throughput "
          f"(we convert 16 of 48 frames per video and stop decoding after the last one we keep)")
    print(f"2 threads / 1 thread: {rows[0][2] / rows[1][2]:.2f}x")
    print(f"peak RSS, {args.scale}x dataset / 1x: {large['peak_rss_mb'] / rows[1][3]:.2f}")


if __name__ == "__main__":
    main()
