"""Local TCP ports: pick free ones, check the fixed ones before starting, probe a listener."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


class PortInUseError(RuntimeError):
    pass


def free_port() -> int:
    """A port the kernel just handed out (bind to :0). Another process could grab it before we use it; rare."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR, so a port left in TIME_WAIT by a previous run still counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def require_free(ports: dict[str, int]) -> None:
    """Fail before starting anything when a fixed port is taken (usually by another `make run`)."""
    taken = {what: port for what, port in ports.items() if not port_is_free(port)}
    if taken:
        listing = ", ".join(f"{port} ({what})" for what, port in taken.items())
        first = next(iter(taken.values()))
        raise PortInUseError(
            f"port(s) already in use on {HOST}: {listing}. Is another `make run` still running? "
            f"See who holds it with: ss -ltnp 'sport = :{first}'"
        )


def accepts_connections(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False
