"""Loopback helpers the bench scripts share (not a benchmark: `python -m bench` skips `_*.py`)."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, seconds: float, process: subprocess.Popen | None = None) -> bool:
    """Whether 127.0.0.1:port accepts a connection within ``seconds``.

    False at once if ``process`` (the server being waited for) has ended.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False
