"""The access log without query strings: `?search=`, `?email=` and other filters carry names and addresses, and
an access log is kept, shipped and read far more widely than the data it describes. Paths alone identify the
route (ids are not personal data here); the request id in every answer ties a line to the audit log."""

from __future__ import annotations

import logging


class DropQueryStrings(logging.Filter):
    """For uvicorn's access logger, whose records carry (client, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def install() -> None:
    """Once per process, whatever creates the app (uvicorn's factory, the tests)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryStrings) for f in access.filters):
        access.addFilter(DropQueryStrings())
