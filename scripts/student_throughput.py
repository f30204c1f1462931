"""Where a few-shot student's time goes (issue 12). Prints figures from one run on this machine; asserts nothing.

  python scripts/student_throughput.py [--ipc 1] [--students 3] [--epochs 200] [--work /tmp/tsgf-students]

On the default config's embedded dataset and its hard-label student recipe (random real, the plain crop):
1. one student per process: `--students` runs of `python -m tsgf evaluate_set`, one after another, as the workflow
   runs them (wall time per process, and the start-up each logs before its first training step);
2. K students in one process: the same students, trained and tested one after another by the same harness in
   this process (torch imported and the data loaded once), so 1 / 2 is what sharing a process can save;
3. the harness against a bare loop: one epoch of `train_classifier` on the training set against a loop of the same
   network, optimiser and batch size over the same clips already in memory as float tensors (no reading from the
   uint8 set, no temporal window, no augmentation, no curve), so their ratio is the harness's own overhead.
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

    # 1. one student per process
    process_seconds, startups = [], []
    for seed in seeds:
        start = time.perf_counter()
        run = tsgf("evaluate_set", "--data", str(data), "--train-set", str(args.work / f"set{seed}"), "--method",
                   "random_real", "--augmentation", "none", "--seed", str(seed), "--params", json.dumps(params),
                   "--out", str(args.work / f"student{seed}.json"), "--threads", "1", "--device", "cpu")
        process_seconds.append(time.perf_counter() - start)
        startups.append(logged_startup_seconds(run.stderr))
    per_process = sum(process_seconds) / len(seeds)

    # 2. the same students in this process, through the same harness (imported here, after the subprocesses)
    import numpy as np
    import torch

    from tsgf import runtime
    from tsgf.clipset import load_clipset, train_and_holdout
    from tsgf.models import NetworkConfig, build_network
    from tsgf.stages.evaluate import _base_augment
    from tsgf.stages.torch_common import normalisation, split_source
    from tsgf.training import ClipSource, TrainConfig, evaluate_classifier, train_classifier

    runtime.configure(1, 0)
    start = time.perf_counter()
    prepared = load_clipset(data)
    _, holdout_rows = train_and_holdout(prepared, params["holdout"], params["val_fraction"])
    test = split_source(prepared, holdout_rows)
    config, network = TrainConfig.from_dict(params["train"]), NetworkConfig.from_dict(params["network"])
    augment, frames = _base_augment(params["augment"]), prepared.clip_shape[0]
    in_process = []
    for seed in seeds:
        begin = time.perf_counter()
        training_set = load_clipset(args.work / f"set{seed}")
        rows = np.arange(len(training_set.clips))
        train = ClipSource(training_set.clips, rows, training_set.labels(rows), *normalisation(prepared))
        torch.manual_seed(seed)
        student = build_network(network, prepared.num_classes, prepared.clip_shape)
        train_classifier(student, train, config, seed, torch.device("cpu"), frames, augment)
        evaluate_classifier(student, test, prepared.num_classes, config.test_passes, config.batch_size, seed,
                            torch.device("cpu"), frames)
        in_process.append(time.perf_counter() - begin)
    shared = (time.perf_counter() - start) / len(seeds)

    # 3. one harness epoch against a bare loop over the same clips in memory
    one_epoch = TrainConfig.from_dict({**params["train"], "epochs": 1})
    torch.manual_seed(0)
    student = build_network(network, prepared.num_classes, prepared.clip_shape)
    repeats = 20
    begin = time.perf_counter()
    for _ in range(repeats):
        train_classifier(student, train, one_epoch, 0, torch.device("cpu"), frames, augment)
    harness_epoch = (time.perf_counter() - begin) / repeats
    clips, labels = train.read(np.arange(len(train.rows)))
    inputs = ((clips - train.mean.view(1, 1, -1, 1, 1)) / train.std.view(1, 1, -1, 1, 1)).permute(0, 2, 1, 3, 4)
    optimiser = torch.optim.SGD(student.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    student.train()
    begin = time.perf_counter()
    for _ in range(repeats):
        for first in range(0, len(labels), config.batch_size):
            loss = torch.nn.functional.cross_entropy(student(inputs[first : first + config.batch_size]),
                                                     labels[first : first + config.batch_size])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    bare_epoch = (time.perf_counter() - begin) / repeats

    print(f"students: random real, IPC {args.ipc} ({len(train.rows)} clips), {args.epochs} epochs, batch "
          f"{config.batch_size}, {args.students} seeds, one thread")
    print(f"1. one student per process: {per_process:.2f} s a student ({1 / per_process:.3f} students/s), of which "
          f"{sum(startups) / len(startups):.2f} s start-up before the first training step")
    print(f"2. {args.students} students in one process: {shared:.2f} s a student ({1 / shared:.3f} students/s, "
          f"{per_process / shared:.2f}x); train + test alone {sum(in_process) / len(in_process):.2f} s")
    print(f"3. one epoch: harness {1000 * harness_epoch:.1f} ms, bare loop {1000 * bare_epoch:.1f} ms "
          f"({harness_epoch / bare_epoch:.2f}x)")


if __name__ == "__main__":
    main()
