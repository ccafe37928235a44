"""What `make run` echoes to its terminal while it runs: the API's request lines, and any warning or error a
child logs, read from the children's log files as they grow (each child still writes its whole log there)."""

from __future__ import annotations

import sys
from pathlib import Path

# Substrings that make a line worth the terminal: the request log (observability/request_log.py) and the levels an
# operator must see. The readable format puts the level after the time: "12:00:01.123 WARNING …".
ECHOED = (" taxpractice.request ", " WARNING ", " ERROR ", " CRITICAL ", "Traceback")


class LogEcho:
    def __init__(self, paths: dict[str, Path]):
        # Start at each file's current end: a log is appended across runs, and only this run's lines are news.
        self.positions = {name: (path, path.stat().st_size if path.exists() else 0) for name, path in paths.items()}

    def print_new(self) -> None:
        for name, (path, position) in list(self.positions.items()):
            if not path.exists() or path.stat().st_size <= position:
                continue
            with path.open("rb") as file:
                file.seek(position)
                chunk = file.read()
            complete = chunk.rfind(b"\n") + 1  # a line still being written waits for the next tick
            self.positions[name] = (path, position + complete)
            for line in chunk[:complete].decode(errors="replace").splitlines():
                if any(marker in line for marker in ECHOED):
                    print(f"{name:<6} {line}", file=sys.stdout, flush=True)
