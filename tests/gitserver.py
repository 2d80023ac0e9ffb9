"""Git repositories for tests: made locally, served over smart HTTP on 127.0.0.1.

The server runs git's own `git http-backend` (CGI) behind a tiny WSGI app, so
the platform fetches over the very protocol it uses with GitHub or GitLab,
without the internet.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org",
       "-c", "init.defaultBranch=main"]


def commit_folder(repo: Path, message: str = "course") -> str:
    """`git init` (once), add everything, commit; returns the commit sha."""
    if not (repo / ".git").exists():
        subprocess.run([*GIT, "init", "-q", str(repo)], check=True)
    subprocess.run([*GIT, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(repo), "commit", "-qm", message], check=True)
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def bare_clone(repo: Path, root: Path, name: str) -> Path:
    """A bare clone of `repo` at `root/name` (what the HTTP server serves)."""
    target = root / name
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(target)], check=True)
    return target


def _backend(root: Path) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        env = {"GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH": "/usr/bin:/bin", "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1",
               "REQUEST_METHOD": environ["REQUEST_METHOD"],
               "PATH_INFO": environ.get("PATH_INFO", ""),
               "QUERY_STRING": environ.get("QUERY_STRING", ""),
               "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1"}
        for key in ("HTTP_GIT_PROTOCOL", "HTTP_CONTENT_ENCODING"):
            if key in environ:
                env[key] = environ[key]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True,
                             check=False).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = "200 OK", []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = value.strip()
            elif name:
                headers.append((name, value.strip()))
        start_response(status, headers)
        return [payload]

    return app


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def git_http_server(root: Path) -> Iterator[str]:
    """Serve the bare repositories under `root`; yields the base URL (ends with /)."""
    server = make_server("127.0.0.1", 0, _backend(root), threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
