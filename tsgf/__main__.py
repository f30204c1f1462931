"""Entry point for `python -m tsgf <stage> ...`."""

import sys

from tsgf.cli import main

sys.exit(main())
