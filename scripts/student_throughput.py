"""Where a few-shot student's time goes (issue 12). Prints figures from one run on this machine; asserts nothing.

  python scripts/student_throughput.py [--ipc 1] [--students 3] [--epochs 200] [--work /tmp/tsgf-students]

On the default config's embedded dataset and its hard-label student recipe (random real, the plain crop), one
thread, K = `--students` seeds:
1. one student per process: K runs of `python -m tsgf evaluate_set --seeds S`, one after another (wall time per
   process, and the start-up each logs before its first training step);
2. K students per process: one `python -m tsgf evaluate_set --seeds 0 1 ... K-1`, as the workflow now runs a cell,
   so 1 / 2 is what sharing a process saves;
3. the harness against a bare loop: `train_classifier` for 20 epochs in one call against a loop doing the same
   work per step (batch order and crop from a generator, normalisation, channels_last, forward, backward, SGD
   step) on the same clips in memory, and nothing else (no reading, no temporal window, no curve, no checks), so
   their ratio is the harness's own overhead (after a warm-up, alternated, the faster of three runs each);
4. K students as one vectorised ensemble (torch.func: `stack_module_state` + `vmap`, which runs each layer's K
   convolutions as one grouped convolution) against the same K students one after another, per epoch, on the
   same batches cropped and normalised beforehand: what vectorising students would buy on this machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tsgf.config import validate_config_sources  # noqa: E402
from tsgf.plan import build_plan  # noqa: E402
from tsgf.startup import logged_startup_seconds  # noqa: E402

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def default_student(epochs: int) -> tuple[dict, dict]:
    """The default config's dataset params and its main hard-label student params without TSGF_A."""
    config = validate_config_sources([("config/config.yaml", yaml.safe_load((REPO / "config" / "config.yaml")
                                                                            .read_text()))], {}, SCHEMA)
    plan = build_plan(config, SCHEMA)
    evaluation = next(e for e in plan.evaluations.values()
                      if e["augmentation"] == "none" and e["params"]["labels"]["kind"] == "hard")
    params = json.loads(json.dumps(evaluation["params"]))
    params["train"]["epochs"] = epochs
    return plan.datasets[evaluation["data"]], params


def tsgf(*args: str) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "tsgf", *args], capture_output=True, text=True, cwd=REPO)
    if run.returncode != 0:
        sys.exit(f"python -m tsgf {args[0]} failed:\n{run.stderr[-3000:]}")
    return run


def timed_students(data: Path, work: Path, seeds: list[int], params: dict) -> tuple[float, float]:
    """Wall seconds of one `evaluate_set` process training `seeds`, and the start-up it logs."""
    start = time.perf_counter()
    run = tsgf("evaluate_set", "--data", str(data), "--train-sets", *[str(work / f"set{seed}") for seed in seeds],
               "--seeds", *map(str, seeds), "--method", "random_real", "--augmentation", "none", "--params",
               json.dumps(params), "--out", str(work / f"students{'-'.join(map(str, seeds))}.json"), "--threads",
               "1", "--device", "cpu")
    return time.perf_counter() - start, logged_startup_seconds(run.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ipc", type=int, default=1)
    parser.add_argument("--students", type=int, default=3, help="K: students (seeds) per measurement")
    parser.add_argument("--epochs", type=int, default=200, help="the default recipe's 200")
    parser.add_argument("--work", type=Path, default=Path("/tmp/tsgf-students"))
    args = parser.parse_args()
    dataset, params = default_student(args.epochs)
    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / "data"
    if not (data / "meta.json").exists():
        tsgf("generate_motion_dataset", "--params", json.dumps(dataset), "--out", str(data))
    split = json.dumps({"holdout": params["holdout"], "val_fraction": params["val_fraction"]})
    seeds = list(range(args.students))
    for seed in seeds:
        tsgf("random_real", "--data", str(data), "--ipc", str(args.ipc), "--seed", str(seed), "--params", split,
             "--out", str(args.work / f"set{seed}"))

    # 1. one student per process; 2. the K students in one process, as the workflow runs a cell
    alone = [timed_students(data, args.work, [seed], params) for seed in seeds]
    per_process = sum(seconds for seconds, _ in alone) / len(seeds)
    cell_seconds, cell_startup = timed_students(data, args.work, seeds, params)
    shared = cell_seconds / len(seeds)

    # 3. and 4. in this process, on the first seed's set
    import numpy as np
    import torch
    from torch.func import functional_call, stack_module_state, vmap

    from tsgf import runtime
    from tsgf.augment import student_crop
    from tsgf.clipset import load_clipset
    from tsgf.models import NetworkConfig, build_network, model_input
    from tsgf.stages.torch_common import normalisation
    from tsgf.training import ClipSource, TrainConfig, train_classifier

    runtime.configure(1, 0)
    prepared = load_clipset(data)
    config, network = TrainConfig.from_dict(params["train"]), NetworkConfig.from_dict(params["network"])
    augment, frames = student_crop(params["augment"]), prepared.clip_shape[0]
    training_set = load_clipset(args.work / "set0")
    rows = np.arange(len(training_set.clips))
    train = ClipSource(training_set.clips, rows, training_set.labels(rows), *normalisation(prepared)).in_memory()
    repeats = 20
    cpu = torch.device("cpu")

    def students() -> list[torch.nn.Module]:
        networks = []
        for seed in seeds:
            torch.manual_seed(seed)
            networks.append(build_network(network, prepared.num_classes, prepared.clip_shape).train())
        return networks

    def sgd(parameters) -> torch.optim.Optimizer:
        return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)

    # 3. the harness for `repeats` epochs in one call (its set-up paid once, as over a student's epochs) against a
    # bare loop doing the same work per step on the same clips in memory: batch order and crop drawn from a
    # generator, normalisation, the channels_last layout, forward, backward, SGD step; and nothing else
    def harness_epochs() -> float:
        student = students()[0]  # built outside the timing, as the bare loop's
        begin = time.perf_counter()
        train_classifier(student, train, TrainConfig.from_dict({**params["train"], "epochs": repeats}), 0, cpu,
                         frames, augment)
        return (time.perf_counter() - begin) / repeats

    clips, labels = train.read(np.arange(len(train.rows)))

    def bare_epochs(student: torch.nn.Module) -> float:
        student = runtime.place(student, cpu)
        optimiser, gen = sgd(student.parameters()), torch.Generator().manual_seed(0)
        begin = time.perf_counter()
        for _ in range(repeats):
            order = torch.randperm(len(labels), generator=gen)
            for first in range(0, len(labels), config.batch_size):
                chosen = order[first : first + config.batch_size]
                batch = augment(clips[chosen], gen) if augment else clips[chosen]
                inputs = runtime.place(model_input(batch, train.mean, train.std), cpu)
                loss = torch.nn.functional.cross_entropy(student(inputs), labels[chosen])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
        return (time.perf_counter() - begin) / repeats

    bare_epochs(students()[0])  # warm-up: the first steps of a process build oneDNN's kernels
    # alternated, the faster of three each, so neither pays for the other's warm-up or a busy moment
    timings = [(harness_epochs(), bare_epochs(students()[0])) for _ in range(3)]
    harness_epoch, bare_epoch = (min(column) for column in zip(*timings))

    # 4. on batches cropped and normalised beforehand, the same for both: K students one after another, then as
    # one vectorised ensemble
    gen = torch.Generator().manual_seed(0)
    batches = [model_input(augment(clips, gen) if augment else clips, train.mean, train.std) for _ in range(repeats)]

    def premade_epochs(student: torch.nn.Module) -> float:
        optimiser = sgd(student.parameters())
        begin = time.perf_counter()
        for inputs in batches:
            for first in range(0, len(labels), config.batch_size):
                loss = torch.nn.functional.cross_entropy(student(inputs[first : first + config.batch_size]),
                                                         labels[first : first + config.batch_size])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
        return (time.perf_counter() - begin) / repeats

    one_after_another = sum(premade_epochs(student) for student in students())

    networks = students()
    weights, buffers = stack_module_state(networks)
    template = networks[0]

    def forward(w, b, x):
        return functional_call(template, (w, b), (x,))

    ensemble = vmap(forward)
    optimiser = sgd(list(weights.values()))
    stacked = [torch.stack([inputs] * len(seeds)) for inputs in batches]  # each student its own copy of a batch
    begin = time.perf_counter()
    for inputs in stacked:
        for first in range(0, len(labels), config.batch_size):
            logits = ensemble(weights, buffers, inputs[:, first : first + config.batch_size])
            target = labels[first : first + config.batch_size].repeat(len(seeds))
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target, reduction="sum") / len(target)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    vectorised = (time.perf_counter() - begin) / repeats

    print(f"students: random real, IPC {args.ipc} ({len(train.rows)} clips), {args.epochs} epochs, batch "
          f"{config.batch_size}, K = {args.students} seeds, one thread")
    print(f"1. one student per process: {per_process:.2f} s a student ({1 / per_process:.3f} students/s), of which "
          f"{sum(s for _, s in alone) / len(alone):.2f} s start-up before the first training step")
    print(f"2. {args.students} students in one process: {shared:.2f} s a student ({1 / shared:.3f} students/s, "
          f"{per_process / shared:.2f}x), {cell_startup:.2f} s start-up for the job "
          f"({cell_startup / cell_seconds:.1%})")
    print(f"3. one epoch: harness {1000 * harness_epoch:.1f} ms, bare loop {1000 * bare_epoch:.1f} ms "
          f"({harness_epoch / bare_epoch:.2f}x)")
    print(f"4. one epoch of {args.students} students: vectorised ensemble {1000 * vectorised:.1f} ms, one after "
          f"another {1000 * one_after_another:.1f} ms ({vectorised / one_after_another:.2f}x)")


if __name__ == "__main__":
    main()
