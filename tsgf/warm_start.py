"""A warm process for the compute stages of a local run, so that no job waits on importing torch.

Every compute job is a fresh `python -m tsgf <stage>` process, and before its first step each one imports torch and
torch's compiler stack (which `torch.use_deterministic_algorithms` and the first `torch.optim` step pull in):
about 3 s on the reference machine, more than the work of a small distillation. For a local run the workflow
starts one *warm server* (workflow/rules/warm_start.smk): a process that has imported all of that once and then
forks a child per job. The job's own process stays what Snakemake starts and watches (`python -m tsgf <stage>`,
its log and benchmark files), but becomes a thin client: it parses its arguments (torch-free), hands its command
line, working directory, environment and standard streams to the server, and waits for the child's exit status.

- A forked child runs the very same handler on the same arguments, so its outputs are the bits a fresh process
  writes (tests/test_warm_start.py checks a student to the last digit).
- A job whose client is killed (Snakemake aborting, a timeout) has its child killed too: the server watches each
  client's connection and kills the child when it closes.
- No server, or one that does not answer: the job runs in its own process, as before. Cluster jobs never use one
  (the workflow starts the server for local execution only), and the server leaves when its parent (Snakemake)
  does.
- The server never touches a GPU, so its children may (CUDA cannot be used across a fork once initialised); the
  workflow still starts none where a local GPU is visible, as that has not been run on a GPU machine.

Start-up is still measured from the job's own process start (the client's), so `start-up to first step` stays the
time a job waited before its first step.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

SERVER_VARIABLE = "TSGF_WARM_SERVER"  # the server's socket path, in the jobs' environment
_MESSAGE_BYTES = 1 << 20  # one request: command line, working directory and environment, as JSON


def run_in_server(argv: list[str]) -> int | None:
    """Run `python -m tsgf` with `argv` in a child of the warm server named by TSGF_WARM_SERVER, with this
    process's standard streams; its exit status, or None when no server is set or none answers (the caller then
    runs the stage itself)."""
    path = os.environ.get(SERVER_VARIABLE)
    if not path:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        connection.connect(path)
    except OSError:
        connection.close()
        return None
    from tsgf.startup import process_start_time

    request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "started": process_start_time()}
    sys.stdout.flush()
    sys.stderr.flush()
    with connection:
        socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
        reply = connection.recv(64)  # blocks until the child has ended
    if not reply:
        print(f"tsgf: the warm server at {path} ended before the stage did; run the job again", file=sys.stderr)
        return 1
    return int(json.loads(reply)["exit"])


def _run_child(request: dict, streams: list[int]) -> None:
    """In a forked child of the server: become the job's process (its streams, directory, environment and start
    time) and run its stage; never returns."""
    code = 1
    try:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        for target, fd in enumerate(streams):
            os.dup2(fd, target)
            os.close(fd)
        print(f"tsgf: running in child {os.getpid()} of the warm server {os.getppid()}", file=sys.stderr, flush=True)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        from tsgf import cli, startup

        startup.set_process_start_time(request["started"])
        code = cli.main(request["argv"])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - the job's log gets the traceback a fresh process would print
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _exit_code(status: int) -> int:
    """A child's wait status as a shell reports it (128 + N when killed by signal N)."""
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def serve(path: Path, parent: int) -> None:
    """Import what the compute stages import, then fork a child per request on the socket at `path`; leave when
    the process `parent` is gone or on SIGTERM, killing the children still running."""
    import importlib

    import torch
    import torch._dynamo  # noqa: F401 - what the first optimiser step imports, about a second
    import torch._inductor.config  # noqa: F401 - what use_deterministic_algorithms imports

    from tsgf.stages import STAGES

    for module in sorted(set(STAGES.values())) + ["torch_common"]:
        importlib.import_module(f"tsgf.stages.{module}")
    for module in ("augment", "checkpoint", "distill", "coresets", "models", "saliency", "training",
                   "datasets.motion"):
        importlib.import_module(f"tsgf.{module}")
    if torch.cuda.is_initialized():  # a forked child could not use the GPU then
        sys.exit("warm server: CUDA was initialised while importing; not serving (the jobs run in their own processes)")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    path.unlink(missing_ok=True)
    listener.bind(str(path))
    listener.listen(64)
    children: dict[int, socket.socket] = {}  # child pid -> its client's connection
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print(f"warm server {os.getpid()} listening on {path}", file=sys.stderr, flush=True)
    try:
        while not stopping and os.getppid() == parent:
            try:
                readable, _, _ = select.select([listener, *children.values()], [], [], 0.2)
            except InterruptedError:
                continue
            for ready in readable:
                if ready is listener:
                    connection, _ = listener.accept()
                    message, streams, _, _ = socket.recv_fds(connection, _MESSAGE_BYTES, 3)
                    sys.stdout.flush()
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        listener.close()
                        for other in children.values():
                            other.close()
                        connection.close()
                        _run_child(json.loads(message), streams)
                    for fd in streams:
                        os.close(fd)
                    children[pid] = connection
                else:  # a client's connection is readable only once it closed: its job was killed
                    pid = next(pid for pid, connection in children.items() if connection is ready)
                    os.kill(pid, signal.SIGKILL)
            while children:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                connection = children.pop(pid)
                try:
                    connection.send(json.dumps({"exit": _exit_code(status)}).encode())
                except OSError:
                    pass  # the client is gone; nobody to tell
                connection.close()
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        listener.close()
        path.unlink(missing_ok=True)


def socket_path() -> Path:
    """Where this process's server listens: the temporary directory, since a socket's path must stay under about
    100 characters (a run directory's may not)."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"tsgf-warm-{os.getpid()}.sock"


def start_server(path: Path, log: Path, wait_seconds: float = 0.0) -> int:
    """Start a warm server on `path` for this process (it leaves when this process does), logging to `log`, and
    return its pid. Jobs that start before it listens run in their own processes, so by default this does not wait;
    with `wait_seconds` it waits until the server listens, and raises RuntimeError with the log's end if it does not
    in time."""
    import subprocess

    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as stream:
        server = subprocess.Popen([sys.executable, "-m", "tsgf.warm_start", "--socket", str(path), "--parent",
                                   str(os.getpid())], stdin=subprocess.DEVNULL, stdout=stream, stderr=stream,
                                  start_new_session=True)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and server.poll() is None:
        if "listening on" in log.read_text(errors="replace"):
            return server.pid
        time.sleep(0.05)
    if wait_seconds == 0:
        return server.pid
    server.kill()
    raise RuntimeError(f"the warm server did not start within {wait_seconds:.0f} s; its log {log} ends:\n"
                       f"{log.read_text(errors='replace')[-2000:]}")


def stop_server(pid: int) -> None:
    """Ask a server to leave (it kills the children still running)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description="the warm server of a local run's compute jobs")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--parent", required=True, type=int, help="leave when this process is gone")
    args = parser.parse_args()
    serve(args.socket, args.parent)


if __name__ == "__main__":
    main()


__all__ = ["SERVER_VARIABLE", "run_in_server", "serve", "socket_path", "start_server", "stop_server"]
