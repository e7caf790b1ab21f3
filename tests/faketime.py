"""libfaketime for the fault tests: a real process whose wall clock the test steps at will.

The process under test starts with ``LD_PRELOAD`` = libfaketime and reads its clock offset
(``+0``, ``+2d``, ``-1d``: relative to the true time, see libfaketime's README section 4d) from
``FAKETIME_TIMESTAMP_FILE`` on every clock call (``FAKETIME_NO_CACHE=1``); the test rewrites that
file to step the clock while the process runs. ``FAKETIME_DONT_FAKE_MONOTONIC=1``: only
``CLOCK_REALTIME`` steps, ``CLOCK_MONOTONIC`` (``time.monotonic``) stays true, like an NTP step.

Known limits of libfaketime 0.9.10 (Debian 12) that the users of this module must respect:

- ``libfaketimeMT`` is used: the process under test has several threads and the offset file is
  parsed into static buffers; the MT build serialises the clock calls that read it.
- ``time.sleep`` fails with EINVAL in Python >= 3.11 under ``DONT_FAKE_MONOTONIC``
  (``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``, wolfcw/libfaketime#426); event, lock
  and socket timeouts work. The kiosk's sync never calls ``time.sleep``.
- a faked process that is killed, or that exec()s (a shell, a pyenv shim), leaves
  ``/dev/shm/faketime_shm_<pid>`` and ``sem.faketime_sem_<pid>`` behind: run the Python
  binary itself and call :meth:`FakeClock.cleanup` when the child has exited.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

LIBRARY_GLOBS = (
    "/usr/lib/*/faketime/libfaketimeMT.so.1",  # Debian, any architecture
    "/usr/lib/faketime/libfaketimeMT.so.1",
    "/usr/lib64/faketime/libfaketimeMT.so.1",
    "/usr/local/lib/faketime/libfaketimeMT.so.1",
)
DAY_S = 86400.0
_SLACK_S = 60.0

_CHECK = """
import json, os, sys, time
path = os.environ["FAKETIME_TIMESTAMP_FILE"]
seen = []
for offset in sys.argv[1:]:
    with open(path + ".new", "w") as f:
        f.write(offset + "\\n")
    os.replace(path + ".new", path)
    seen.append((time.time(), time.monotonic()))
print(json.dumps(seen))
"""


class FaketimeMissing(RuntimeError):
    """libfaketime is not installed (Debian: ``apt-get install faketime``)."""


def find_libfaketime() -> Path:
    """The installed libfaketimeMT; :class:`FaketimeMissing` when there is none."""
    for pattern in LIBRARY_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[0])
    raise FaketimeMissing(
        "libfaketime is not installed (none of " + ", ".join(LIBRARY_GLOBS) + "):"
        " run `apt-get install faketime` (make test installs it when run as root)"
    )


class FakeClock:
    """A wall-clock offset, in a file in ``directory``, for the processes run with :meth:`env`."""

    def __init__(self, directory: Path, library: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.library = library
        self.file = directory / "faketime.rc"
        self.set("+0")

    def env(self) -> dict[str, str]:
        """This process's environment plus the variables that put a child on the fake clock."""
        return {
            **os.environ,
            "LD_PRELOAD": str(self.library),
            "FAKETIME_TIMESTAMP_FILE": str(self.file),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }

    def set(self, offset: str) -> None:
        """Step the children's wall clock to ``offset`` from the true time, e.g. ``-3d``.

        Written to a new file and renamed over the old one, so a child never reads half of it.
        """
        new = self.file.with_name(self.file.name + ".new")
        new.write_text(offset + "\n")
        os.replace(new, self.file)

    def cleanup(self, pid: int) -> None:
        """Remove the shared memory and semaphore libfaketime left for the exited ``pid``."""
        for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
            Path("/dev/shm", name).unlink(missing_ok=True)

    def verify(self) -> None:
        """Check in a child that rewriting the file steps ``time.time()`` but not
        ``time.monotonic()``; AssertionError saying what libfaketime did otherwise."""
        offsets = {"+0": 0.0, "+2d": 2 * DAY_S, "-1d": -DAY_S}
        process = subprocess.Popen(
            [sys.executable, "-c", _CHECK, *offsets],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = process.communicate(timeout=30)
        finally:
            process.kill()
            process.wait()
            self.cleanup(process.pid)
            self.set("+0")
        assert process.returncode == 0, f"libfaketime check failed: {err}"
        seen = json.loads(out)
        (wall0, mono0), *_ = seen
        for (wall, mono), (offset, expected) in zip(seen, offsets.items(), strict=True):
            assert abs(wall - wall0 - expected) < _SLACK_S, (
                f"{self.library}: time.time() did not step by {offset} ({wall - wall0:+.0f} s)"
            )
            assert 0 <= mono - mono0 < _SLACK_S, (
                f"{self.library}: time.monotonic() moved with the wall clock at {offset}"
                " (FAKETIME_DONT_FAKE_MONOTONIC not honoured)"
            )
