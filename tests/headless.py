"""headless.py -- what the tests that render fanzha's HTML pages in headless
Chromium share (report_page.py for `fanzha stats --report`,
rules_diff/chromium_page.py for `fanzha rules diff --html`).

Chromium runs headless, without a sandbox (tests run as any user, in
containers) or a GPU, with the network disabled: every request goes to a
proxy that does not exist and every host name fails to resolve, so a page
that referred to anything outside itself would show it broken rather than
fetch it. Each test gives Chromium a fresh profile directory.
"""
import os
import shutil
import subprocess
import sys

# ctest's SKIP_RETURN_CODE for these tests
SKIP = 77

NET_OFF = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--disable-background-networking", "--no-first-run"]


def find_chromium():
    """The Chromium binary (Debian's `chromium`), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def skip_or_fail(prog, missing):
    """Some of the programs a test needs are missing: exit SKIP, or fail
    when FANZHA_REQUIRE_CHROMIUM is set (a machine meant to run them)."""
    msg = (f"{prog}: {', '.join(missing)} not installed "
           "(deploy/install-deps.sh installs chromium and poppler-utils)")
    if os.environ.get("FANZHA_REQUIRE_CHROMIUM"):
        sys.exit(msg + " and FANZHA_REQUIRE_CHROMIUM is set")
    print(msg + ": skipped")
    sys.exit(SKIP)


def run(chromium, profile, *args, timeout=120):
    """Run headless Chromium with the network off and profile as its user
    data directory; the CompletedProcess (text)."""
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", *NET_OFF,
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def png_size(path):
    """(width, height) of a PNG file, or None when it is not one."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
