"""Streaming preparation of a real video dataset into the one clip-set format (tsgf/clipset.py).

Memory stays bounded whatever the dataset size: clips are decoded by a pool of `threads` workers with a bounded
number in flight, and each finished clip is written straight into a preallocated clips.npy at its own row (row =
position in the index, so the result does not depend on the order in which workers finish). The file is written and
read with pwrite/pread, not memory-mapped, so that its pages never count as this process's memory; training
later reads it memory-mapped.

Resumable: the work happens in `<out>.partial/` (which Snakemake does not own, so it survives a killed job). Every
few seconds the memory map is flushed and the rows it holds are appended to journal.csv; a re-run with the same plan
skips the journaled rows. Only when every clip is done are manifest.csv and meta.json written and clips.npy moved
into `<out>/`.

A clip that cannot be read (missing, unreadable, truncated, too short) never stops preparation and is never dropped:
it is a manifest row with status "failed" and the reason, and the log counts the failures by reason.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsgf.clipset import CLIPS_FILE, MANIFEST_COLUMNS, MANIFEST_FILE, META_FILE, FORMAT, clips_sha256
from tsgf.config import stage_hash
from tsgf.datasets.layouts import DatasetIndex
from tsgf.datasets.video import ClipReadError, ClipSpec, read_clip
from tsgf.errors import ClipSetError
from tsgf.runtime import peak_rss_mb, progress

log = logging.getLogger("tsgf")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PLAN_FILE, JOURNAL_FILE = "plan.json", "journal.csv"


def _read_one(record_source: Path, spec: ClipSpec, split: str, clip_id: str) -> np.ndarray | str:
    """The clip, or the reason it could not be read (any decoder error is a reason, never a crash)."""
    try:
        return read_clip(record_source, spec, split, clip_id)
    except ClipReadError as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 - a broken file must not stop 240k others; the reason is kept
        return f"unreadable: {type(error).__name__}: {error}"


class RowFile:
    """A uint8 .npy array of clips written and read a row at a time with pwrite/pread, never memory-mapped: the
    resident memory of preparation stays a few clips, whatever the file's size (mapped pages would count)."""

    def __init__(self, path: Path, shape: tuple[int, ...] | None = None) -> None:
        if shape is not None:  # a new file: header plus a sparse body of the full size
            with path.open("wb") as handle:
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                          "shape": tuple(shape)}
                np.lib.format.write_array_header_1_0(handle, header)
                handle.truncate(handle.tell() + int(np.prod(shape)))
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            self.shape, _, self.dtype = read_header(handle)
            self.offset = handle.tell()
        self.row_bytes = int(np.prod(self.shape[1:]))
        self.fd = os.open(path, os.O_RDWR)

    def __len__(self) -> int:
        return self.shape[0]

    def __setitem__(self, row: int, clip: np.ndarray) -> None:
        os.pwrite(self.fd, np.ascontiguousarray(clip, dtype=np.uint8).tobytes(), self.offset + row * self.row_bytes)

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(len(self))
        data = os.pread(self.fd, (stop - start) * self.row_bytes, self.offset + start * self.row_bytes)
        return np.frombuffer(data, dtype=np.uint8).reshape(stop - start, *self.shape[1:])

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


def _open_work(work: Path, plan: dict[str, Any], shape: tuple[int, ...]) -> tuple[RowFile, dict[int, str]]:
    """The clip file and the finished rows (row -> failure reason, "" when ok) of a run with this plan."""
    plan_path, journal_path = work / PLAN_FILE, work / JOURNAL_FILE
    if plan_path.is_file() and json.loads(plan_path.read_text()) == plan and journal_path.is_file():
        done = {}
        # the text after the last newline is a line the kill cut short: that clip is redone
        for line in journal_path.read_text().split("\n")[:-1]:
            row, _, reason = line.partition(",")
            done[int(row)] = json.loads(reason) if reason else ""
        return RowFile(work / CLIPS_FILE), done
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    clips = RowFile(work / CLIPS_FILE, shape)
    plan_path.write_text(json.dumps(plan, indent=2) + "\n")
    journal_path.write_text("")
    return clips, {}


def _channel_statistics(clips: RowFile, rows: np.ndarray, chunk: int = 256) -> tuple[list[float], list[float]]:
    """Exact per-channel mean and std of the given rows from 256-bin histograms, a chunk of the file at a time."""
    hist = np.zeros((3, 256), dtype=np.float64)
    wanted = np.zeros(len(clips), dtype=bool)
    wanted[rows] = True
    for start in range(0, len(clips), chunk):
        block = clips[start : start + chunk][wanted[start : start + chunk]]
        for channel in range(3):
            hist[channel] += np.bincount(block[:, :, channel].ravel(), minlength=256)
    levels = np.arange(256) / 255
    mean = hist @ levels / hist.sum(axis=1)
    std = np.sqrt((hist * (levels - mean[:, None]) ** 2).sum(axis=1) / hist.sum(axis=1))
    return mean.tolist(), std.tolist()


def prepare_video_dataset(index: DatasetIndex, spec: ClipSpec, out_dir: str | Path, recipe: dict[str, Any],
                          threads: int = 1, normalisation: str = "imagenet", flush_seconds: float = 5.0,
                          flush_clips: int = 64) -> dict[str, Any]:
    """Decode every clip of `index` into a clip set at `out_dir`; returns its metadata."""
    out = Path(out_dir)
    work = out.parent / f"{out.name}.partial"
    shape = (len(index.records), spec.frames, 3, spec.height, spec.width)
    plan = {"recipe": recipe, "shape": list(shape),
            "records": stage_hash([(r.clip_id, str(r.source), r.label, r.split) for r in index.records])}
    clips, done = _open_work(work, plan, shape)
    if done:
        log.info("resuming: %d of %d clips were prepared by an earlier run", len(done), len(index.records))
    todo = [row for row in range(len(index.records)) if row not in done]
    start = time.perf_counter()
    pending: list[str] = []
    last_flush = time.monotonic()

    def flush() -> None:
        clips.sync()  # pixels reach the disk before the journal says they are there
        with (work / JOURNAL_FILE).open("a") as journal:
            journal.writelines(pending)
            journal.flush()
            os.fsync(journal.fileno())
        pending.clear()

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        in_flight: dict[Future, int] = {}
        queue = iter(todo)
        ticks = progress(range(len(todo)), len(todo), "prepare")  # advanced once per finished clip
        while True:
            while len(in_flight) < 4 * max(1, threads):  # bounded: a few clips per worker in memory
                row = next(queue, None)
                if row is None:
                    break
                record = index.records[row]
                in_flight[pool.submit(_read_one, record.source, spec, record.split, record.clip_id)] = row
            if not in_flight:
                break
            completed, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in completed:
                row = in_flight.pop(future)
                result = future.result()
                if isinstance(result, str):
                    done[row] = result
                    pending.append(f"{row},{json.dumps(result)}\n")
                    log.warning("failed: %s (%s): %s", index.records[row].clip_id, index.records[row].source, result)
                else:
                    clips[row] = result
                    done[row] = ""
                    pending.append(f"{row},\n")
                next(ticks, None)
            if len(pending) >= flush_clips or time.monotonic() - last_flush >= flush_seconds:
                flush()
                last_flush = time.monotonic()
    flush()
    seconds = time.perf_counter() - start
    return _finish(index, spec, clips, done, out, work, recipe, normalisation,
                   {"seconds": seconds, "clips_decoded": len(todo), "threads": threads,
                    "clips_per_second": len(todo) / max(seconds, 1e-9)})


def _finish(index: DatasetIndex, spec: ClipSpec, clips: RowFile, done: dict[int, str], out: Path, work: Path,
            recipe: dict[str, Any], normalisation: str, timing: dict[str, Any]) -> dict[str, Any]:
    manifest = pd.DataFrame([{
        "index": row if not done[row] else -1, "clip_id": r.clip_id, "label": r.label, "class_name": r.class_name,
        "split": r.split, "source": str(r.source), "status": "failed" if done[row] else "ok", "reason": done[row]}
        for row, r in enumerate(index.records)], columns=MANIFEST_COLUMNS)
    ok = manifest[manifest["status"] == "ok"]
    reasons = Counter(reason.split(":")[0] for reason in manifest.loc[manifest["status"] == "failed", "reason"])
    summary = ", ".join(f"{count} {reason}" for reason, count in reasons.most_common()) or "none"
    log.info("prepared %d clips: %d ok, %d failed (%s)", len(manifest), len(ok), len(manifest) - len(ok), summary)
    if ok.empty:
        raise ClipSetError(f"no clip of the {len(manifest)} listed could be read ({summary}); check dataset.root "
                           f"and the failures in {work / JOURNAL_FILE}")
    train_ok = ok[ok["split"] == "train"]
    empty = [name for name in index.classes if name not in set(train_ok["class_name"])]
    if empty:
        log.warning("%d classes have no readable training clip: %s", len(empty), ", ".join(empty[:10]))
    if normalisation == "dataset":
        mean, std = _channel_statistics(clips, train_ok["index"].to_numpy())
    else:
        mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
    meta = {
        "format": FORMAT, "num_clips": int(len(clips)), "clip_shape": [int(s) for s in clips.shape[1:]],
        "classes": list(index.classes), "motion_only_classes": [], "mean": mean, "std": std, "recipe": recipe,
        "sha256": clips_sha256(clips), "normalisation": normalisation,
        "counts": {split: int((ok["split"] == split).sum()) for split in ("train", "test")},
        "failed": {"total": int(len(manifest) - len(ok)), **dict(reasons)},
        "preparation": {**timing, "peak_rss_mb": peak_rss_mb()}, "clip_spec": spec.__dict__,
    }
    clips.close()
    out.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(out / MANIFEST_FILE, index=False)
    os.replace(work / CLIPS_FILE, out / CLIPS_FILE)
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(work)
    return meta


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "prepare_video_dataset"]
