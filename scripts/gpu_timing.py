"""Time one distillation shard and one student evaluation at MiniUCF scale, on synthetic clips.

MiniUCF (the benchmark's UCF101 subset): 50 classes, clips of 16 frames of 112x112, the benchmark's ConvNet3D
(width 64, kernel 3x7x7, spatial strides 2,2,2; 3.65 M parameters) as student, the same with BatchNorm as
teacher. Pixels are random: timing does not depend on content. The code timed is the workflow's own
(`tsgf.distill.distill`, `tsgf.training.train_classifier` / `evaluate_classifier`), device selection and bf16
included, after a short warm-up (cuDNN autotuning, lazy CUDA initialisation).

    python scripts/gpu_timing.py                         # full MiniUCF scale, on the GPU if one is visible
    python scripts/gpu_timing.py --precision bf16        # the same with bf16 autocast (CUDA only)
    python scripts/gpu_timing.py --reduced               # a reduced scale that finishes in about a minute on CPU

Prints one line per figure; extrapolated totals are marked as such.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from tsgf import runtime
from tsgf.config import schema_defaults
from tsgf.distill import DistillConfig, distill
from tsgf.models import NetworkConfig, build_network, count_parameters
from tsgf.plan import synthesis_params
from tsgf.sharding import Shard
from tsgf.training import ClipSource, TrainConfig, evaluate_classifier, train_classifier

# the schema's defaults for the rest: TSGF's synthesis and the student recipe, as a default run uses them
DEFAULTS = schema_defaults()
BENCHMARK_NETWORK = NetworkConfig(arch="convnet3d", width=64, depth=3, kernel=(3, 7, 7), spatial_strides=(2, 2, 2),
                                  dropout=0.5)  # as in config/paper/


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_clips(count: int, frames: int, size: int, seed: int) -> np.ndarray:
    generator = np.random.default_rng(seed)
    return generator.integers(0, 256, size=(count, frames, 3, size, size), dtype=np.uint8)


def time_distillation(args: argparse.Namespace, device: torch.device) -> None:
    """One shard = one IPC index of every class: a batch of `classes` clips optimised for `iterations` steps."""
    clip_shape = (args.frames, 3, args.size, args.size)
    teacher = build_network(BENCHMARK_NETWORK, args.classes, clip_shape, batchnorm=True)
    init = torch.from_numpy(random_clips(args.classes, *clip_shape[:1], args.size, seed=0)).float() / 255.0
    mean, std = torch.full((3,), 0.5), torch.full((3,), 0.25)
    shard = Shard(ipc_indices=(0,), groups=(0,))

    def run(iterations: int) -> float:
        config = replace(DistillConfig.from_dict(synthesis_params(DEFAULTS, "tsgf")), iterations=iterations,
                         log_every=max(iterations, 1))
        synchronise(device)
        start = time.perf_counter()
        distill(teacher, init, args.classes, 1, config, 0, device, mean, std, shard, args.precision)
        synchronise(device)
        return time.perf_counter() - start

    run(args.warmup)
    seconds = run(args.iterations)
    per_iteration = seconds / args.iterations
    print(f"distillation shard: {args.classes} clips x {args.iterations} iterations in {seconds:.1f} s "
          f"({per_iteration * 1000:.1f} ms/iteration; TSGF_O on)")
    print(f"  extrapolated: {args.full_iterations} iterations {per_iteration * args.full_iterations:.0f} s per "
          f"shard; teacher {count_parameters(teacher) / 1e6:.2f} M parameters")


def time_evaluation(args: argparse.Namespace, device: torch.device) -> None:
    """A student trained from scratch on IPC x classes clips, then tested on `test_clips` real-sized clips."""
    clip_shape = (args.frames, 3, args.size, args.size)
    train_count = args.ipc * args.classes
    mean, std = torch.full((3,), 0.5), torch.full((3,), 0.25)
    train = ClipSource(random_clips(train_count, args.frames, args.size, 1), np.arange(train_count),
                       np.arange(train_count) % args.classes, mean, std)
    test = ClipSource(random_clips(args.test_clips, args.frames, args.size, 2), np.arange(args.test_clips),
                      np.arange(args.test_clips) % args.classes, mean, std)

    def run(epochs: int) -> tuple[float, float, torch.nn.Module]:
        torch.manual_seed(0)
        student = build_network(BENCHMARK_NETWORK, args.classes, clip_shape)
        synchronise(device)
        start = time.perf_counter()
        train_classifier(student, train, TrainConfig.from_dict({**DEFAULTS["evaluation"]["train"], "epochs": epochs,
                                                                 "batch_size": args.batch_size}), 0, device,
                         args.frames, precision=args.precision)
        synchronise(device)
        trained = time.perf_counter()
        evaluate_classifier(student, test, args.classes, 1, args.batch_size, 0, device, args.frames, args.precision)
        synchronise(device)
        return trained - start, time.perf_counter() - trained, student

    run(args.warmup)
    train_seconds, test_seconds, student = run(args.epochs)
    per_epoch = train_seconds / args.epochs
    print(f"student evaluation: IPC {args.ipc} ({train_count} clips), {args.epochs} epochs in {train_seconds:.1f} s "
          f"({per_epoch * 1000:.0f} ms/epoch); test on {args.test_clips} clips {test_seconds:.1f} s; "
          f"student {count_parameters(student) / 1e6:.2f} M parameters")
    print(f"  extrapolated: {args.full_epochs} epochs {per_epoch * args.full_epochs + test_seconds:.0f} s per "
          f"student (training + one test pass)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (as the workflow's `device`)")
    parser.add_argument("--precision", default="fp32", choices=runtime.PRECISIONS)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads")
    parser.add_argument("--reduced", action="store_true",
                        help="10 classes, 8x56x56 clips, a few steps: a CPU check that finishes in about a minute")
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--iterations", type=int, default=50, help="distillation iterations timed")
    parser.add_argument("--full-iterations", type=int, default=1000, help="iterations the extrapolation assumes")
    parser.add_argument("--ipc", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5, help="student epochs timed")
    parser.add_argument("--full-epochs", type=int, default=300, help="epochs the extrapolation assumes")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-clips", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations/epochs first")
    args = parser.parse_args()
    if args.reduced:
        args.classes, args.frames, args.size = 10, 8, 56
        args.iterations, args.epochs, args.test_clips, args.warmup = 5, 2, 100, 1
    device = runtime.select_device(args.device)
    runtime.configure(args.threads, 0, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} threads"
    print(f"device: {device} ({name}); precision {args.precision}; clips {args.frames}x{args.size}x{args.size}, "
          f"{args.classes} classes; torch {torch.__version__}")
    time_distillation(args, device)
    time_evaluation(args, device)
    if device.type == "cuda":
        print(f"peak GPU memory: {runtime.peak_gpu_mb(device):.0f} MiB")
    print(f"peak RSS: {runtime.peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
