"""Postgres from the `pgserver` wheel, data under a directory of ours, reached over a Unix socket.

We stop it ourselves (`pg_ctl stop -m fast`): pgserver's own atexit stop only fires in the last process listed
in `<dir>/.handle_pids.json` and never after SIGTERM/SIGKILL (see STACK-NOTES), so it is left unused here.
"""

from __future__ import annotations

import atexit
import logging
import os
import stat
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def ensure_runtime_dir() -> None:
    """Give pgserver a valid $XDG_RUNTIME_DIR before it is imported (it reads the path at import time).

    It keeps its inter-process lock there; without the variable, or with a folder that is not ours with mode
    0700, platformdirs warns and falls back. We use the same fallback path, created properly, so every
    process (supervisor, API, worker, tests) agrees on one lock.
    """
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and _is_private_dir(Path(current)):
        return
    path = Path(tempfile.gettempdir()) / f"runtime-{os.geteuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if not _is_private_dir(path):
        path.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(path)


def _is_private_dir(path: Path) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) == 0o700


class PostgresHandle:
    def __init__(self, data_dir: Path, server) -> None:
        self.data_dir = data_dir
        self._server = server
        # "postgresql://postgres:@/postgres?host=<socket dir>" → the psycopg 3 dialect, sync or async engines.
        self.url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        self._stopped = False

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        import pgserver
        from pgserver.utils import PostmasterInfo

        try:
            pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user,
                            timeout=30)
        except subprocess.CalledProcessError:
            info = PostmasterInfo.read_from_pgdata(self.data_dir)
            if info is not None and info.is_running():
                raise
            log.warning("postgres in %s was already stopped", self.data_dir)
        # Forget pgserver's in-process handle: otherwise a later get_server(same dir) in this process returns
        # the cached, now stopped, server; and its atexit hook has nothing left to do.
        self._server.global_process_id_list.get_and_remove(os.getpid())
        type(self._server)._instances.pop(self.data_dir, None)
        atexit.unregister(self._server._cleanup)


def start_postgres(data_dir: Path) -> PostgresHandle:
    """Start (or adopt an already running) Postgres with its data in `data_dir`; works as root."""
    ensure_runtime_dir()
    import pgserver  # after ensure_runtime_dir: pgserver fixes its lock path at import

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the handle's stop() is the one way it stops (see the module docstring).
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    return PostgresHandle(data_dir, server)
