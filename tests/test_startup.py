"""A job's start-up is counted from its own process start (tsgf/startup.py), read to the kernel's clock tick."""

import json
import subprocess
import sys
import time

from tsgf.startup import STARTUP_LINE, logged_startup_seconds


def test_a_fresh_process_starts_after_it_was_spawned_and_before_its_first_line_runs():
    """The start must lie between the parent's spawn and the child's first line, within a clock tick (10 ms).
    psutil's create_time failed this by up to a second: it adds the tick count to a boot time cut to the second."""
    spawned = time.time()
    run = subprocess.run([sys.executable, "-c", "import time, json; first = time.time()\n"
                          "from tsgf.startup import process_start_time\n"
                          "print(json.dumps([first, process_start_time()]))"], capture_output=True, text=True,
                         check=True)
    first_line, started = json.loads(run.stdout)
    assert spawned - 0.02 <= started <= first_line


def test_the_logged_start_up_line_reads_back():
    text = "noise\n" + STARTUP_LINE.format(seconds=0.5) + "\n" + STARTUP_LINE.format(seconds=1.25) + "\n"
    assert logged_startup_seconds(text) == 1.25 and logged_startup_seconds("nothing") is None
