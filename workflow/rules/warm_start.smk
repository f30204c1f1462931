# Execution, not a stage: a local run starts one warm server that has imported torch, and every compute job's
# `python -m tsgf <stage>` hands its work to a child the server forks instead of importing torch itself
# (tsgf/warm_start.py; config key warm_start). The outputs are the same bits; a cluster run never starts one, and
# neither does a run whose jobs may use a local GPU (a forked child can only use CUDA if nothing before the fork
# touched it, which has not been checked on a GPU machine).
import os

from tsgf.warm_start import SERVER_VARIABLE, socket_path, start_server, stop_server

WARM_SERVER = {}


onstart:
    if C["warm_start"] and workflow.local_exec and (C["device"] == "cpu" or not local_gpu_visible()):
        WARM_SERVER["pid"] = start_server(socket_path(), Path(LOGS) / "warm_server.log")
        os.environ[SERVER_VARIABLE] = str(socket_path())  # the jobs' environment


onsuccess:
    if "pid" in WARM_SERVER:
        stop_server(WARM_SERVER["pid"])


onerror:
    if "pid" in WARM_SERVER:
        stop_server(WARM_SERVER["pid"])
