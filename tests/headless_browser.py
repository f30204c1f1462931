"""Headless Chromium (Debian's `chromium` package) for the HTML-report test.

pip cannot install a browser, so without one the test is skipped with a reason saying how to get it, unless
TSGF_REQUIRE_BROWSER=1 (set by .ci/run, which installs Chromium first): there a missing browser fails the test, so
CI cannot silently skip it. Flags: headless as root, no GPU, and none of Chromium's background connections (this
machine's network is closed; they would only fail).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REQUIRE_BROWSER = "TSGF_REQUIRE_BROWSER"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]


def chromium_executable() -> str:
    """The Chromium binary; skips the calling test without one, or fails it where TSGF_REQUIRE_BROWSER=1."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "no Chromium on this machine (pip cannot install it): apt-get install -y --no-install-recommends chromium"
    if os.environ.get(REQUIRE_BROWSER) == "1":
        pytest.fail(f"{REQUIRE_BROWSER}=1 but {message}", pytrace=False)
    pytest.skip(f"{message}; CI (.ci/run) installs it and requires this test")


def page_with_script(html: Path, script: str, out: Path) -> Path:
    """A copy of a Snakemake report that runs `script` once the report's React app has mounted (it sets the global
    `app` then, possibly after the load event), to drive the page as a reader would."""
    text = html.read_text()
    end = text.rfind("</body>")
    driver = f"(function drive() {{ if (typeof app === 'undefined' || !app) {{ setTimeout(drive, 20); return; }} " \
             f"{script} }})();"
    out.write_text(f"{text[:end]}<script>window.addEventListener('load', () => {{ {driver} }});</script>{text[end:]}")
    return out


def run_chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    """Open `page` in a fresh profile; --virtual-time-budget lets its scripts and timers run before the output."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [chromium_executable(), *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args,
                   page.resolve().as_uri()]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)


def rendered_dom(page: Path) -> str:
    result = run_chromium(page, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(page: Path, out: Path, width: int = 1400, height: int = 1000) -> Path:
    # --timeout waits (in real time) for the scripts' effects to be painted before the capture
    result = run_chromium(page, "--timeout=5000", f"--window-size={width},{height}", f"--screenshot={out}")
    assert result.returncode == 0 and out.exists(), result.stderr[-2000:]
    return out
