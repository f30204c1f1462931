"""Entry point for `python -m tsgf <stage> ...`, the command every rule runs: a compute stage goes to the local
run's warm server when there is one (tsgf/warm_start.py), anything else, and everything without a server, runs in
this process (tsgf.cli.main). Parsing first keeps a typo's error here, torch-free."""

import sys

from tsgf.cli import build_parser, main, runs_networks
from tsgf.warm_start import run_in_server

argv = sys.argv[1:]
code = run_in_server(argv) if runs_networks(build_parser().parse_args(argv).stage) else None
sys.exit(main(argv) if code is None else code)
