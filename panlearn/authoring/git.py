"""Importing a course from git: a local repository (CLI), or a public URL (the workspace).

The tree at the commit is exported with `git archive` (so uncommitted changes
never leak into a published version) and unpacked safely; the resolved commit
is recorded in the course version.

Fetching a URL makes the server a git client of whatever the URL names, so
it is fenced in: only URLs under the operator's prefixes
(`PANLEARN_GIT_IMPORT_URLS`), no credentials, no redirects, no protocol but
the URL's own (no `file://`, no `ext::`), no user or system git config, a
shallow fetch of the one ref, a time limit and a size limit on what arrives.
"""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
import time
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from panlearn.errors import InvalidInputError, PayloadTooLargeError, UpstreamUnavailableError

#: A branch, tag or commit as the workspace accepts it: no options, no refspecs (`a:b`).
REF_RE = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$")
FETCH_TIMEOUT_S = 120.0
#: Longest repository URL accepted (what a version's `source_uri` holds, with its prefix).
MAX_URL = 400


def _git(repo: Path, *args: str) -> bytes:
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True,
                                timeout=120)
    except FileNotFoundError:
        raise InvalidInputError("git is not installed.") from None
    except subprocess.CalledProcessError as error:
        message = error.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidInputError(f"git {' '.join(args[:2])} failed in {repo}: "
                                f"{message[-1] if message else error}") from None
    return result.stdout


def export_commit(repo: Path, ref: str, target: Path, *, max_files: int | None = None,
                  max_bytes: int | None = None) -> str:
    """Unpack the tree of `ref` into `target`; returns the full commit sha.

    With `max_files` / `max_bytes`, a tree holding more is refused before
    anything is unpacked (the same limits as an uploaded archive).
    """
    if ref.startswith("-"):
        raise InvalidInputError(f"{ref!r} is not a git revision.", errors={"ref": ["invalid"]})
    try:
        commit = _git(repo, "rev-parse", "--verify", "--end-of-options",
                      f"{ref}^{{commit}}").decode().strip()
    except InvalidInputError:
        raise InvalidInputError(f"{ref!r} is not a commit, branch or tag of {repo}.",
                                errors={"ref": ["unknown revision"]}) from None
    if max_files is not None or max_bytes is not None:
        _check_tree_size(repo, commit, max_files, max_bytes)
    archive = _git(repo, "archive", "--format=tar", commit)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        # The "data" filter refuses absolute paths, `..`, links out of the tree and devices.
        tar.extractall(target, filter="data")
    return commit


def _check_tree_size(repo: Path, commit: str, max_files: int | None,
                     max_bytes: int | None) -> None:
    files = 0
    total = 0
    for line in _git(repo, "ls-tree", "-r", "-l", "--end-of-options", commit).splitlines():
        size = line.split(None, 4)[3]
        files += 1
        total += int(size) if size.isdigit() else 0
    if max_files is not None and files > max_files:
        raise PayloadTooLargeError(f"The commit holds {files} files; at most {max_files} "
                                   "are accepted.")
    if max_bytes is not None and total > max_bytes:
        raise PayloadTooLargeError(f"The commit holds {total} bytes; at most {max_bytes} are "
                                   "accepted.")


def check_git_url(url: str, allowed_prefixes: Sequence[str]) -> str:
    """The URL, if it is a plain http(s) URL under one of the allowed prefixes."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise InvalidInputError(f"The URL is longer than {MAX_URL} characters.",
                                errors={"git_url": ["too long"]})
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or any(
            char.isspace() or ord(char) < 32 for char in url):
        raise InvalidInputError(f"{url[:100]!r} is not an https URL of a git repository.",
                                errors={"git_url": ["not an https URL"]})
    if parts.username or parts.password:
        raise InvalidInputError("Give the URL of a public repository, without credentials.",
                                errors={"git_url": ["credentials in the URL"]})
    if not any(url.startswith(prefix) for prefix in allowed_prefixes if prefix):
        where = ", ".join(prefix for prefix in allowed_prefixes if prefix) or "nowhere"
        raise InvalidInputError(f"This platform imports git repositories only from: {where}.",
                                errors={"git_url": ["not an allowed host"]})
    return url


def check_ref(ref: str) -> str:
    """A branch, tag or commit name, refused when it could be read as an option or refspec."""
    ref = ref.strip()
    if not REF_RE.match(ref):
        raise InvalidInputError(f"{ref[:60]!r} is not a branch, tag or commit.",
                                errors={"ref": ["invalid"]})
    return ref


def fetch_commit(url: str, ref: str, workdir: Path, target: Path, *,
                 allowed_prefixes: Sequence[str], max_files: int, max_bytes: int,
                 timeout_s: float = FETCH_TIMEOUT_S) -> str:
    """Fetch `ref` of the public repository at `url` and unpack its tree into `target`.

    Returns the commit sha. Raises `InvalidInputError` for a refused URL or an
    unknown ref, `PayloadTooLargeError` over the limits, `UpstreamUnavailableError`
    when the host cannot be reached in time.
    """
    url = check_git_url(url, allowed_prefixes)
    ref = check_ref(ref)
    repo = workdir / "fetched.git"
    home = workdir / "git-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false",
           "GIT_PROTOCOL_FROM_USER": "0", "GIT_ALLOW_PROTOCOL": urlsplit(url).scheme}
    subprocess.run(["git", "init", "--bare", "-q", str(repo)], env=env, check=True,
                   capture_output=True, timeout=30)
    command = ["git", "-C", str(repo), "-c", "http.followRedirects=false",
               "-c", "credential.helper=", "-c", "core.askPass=/bin/false",
               "-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=30",
               "fetch", "--depth", "1", "--no-tags", "--quiet", "--end-of-options", url, ref]
    _run_limited(command, env, repo, max_bytes=max_bytes, timeout_s=timeout_s, url=url, ref=ref)
    return export_commit(repo, "FETCH_HEAD", target, max_files=max_files, max_bytes=max_bytes)


def _run_limited(command: list[str], env: dict[str, str], repo: Path, *, max_bytes: int,
                 timeout_s: float, url: str, ref: str) -> None:
    """Run git, killing it past the time limit or when the fetched objects outgrow the cap."""
    # stderr goes to a file: a pipe nobody reads while waiting could fill up and stall git.
    log = repo.parent / "git-fetch.log"
    with log.open("wb") as errors:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _wait(process, repo, cap=2 * max_bytes, timeout_s=timeout_s, url=url)
    stderr = log.read_text(errors="replace")
    if process.returncode != 0:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
        if "couldn't find remote ref" in stderr or "not our ref" in stderr:
            raise InvalidInputError(f"{ref!r} is not a branch, tag or commit of {url}.",
                                    errors={"ref": ["unknown revision"]})
        raise InvalidInputError(f"git could not fetch {ref!r} from {url}: {last}",
                                errors={"git_url": [last]})


def _wait(process: subprocess.Popen[bytes], repo: Path, *, cap: int, timeout_s: float,
          url: str) -> None:
    """Wait for git; kill it past the deadline or once the objects outgrow `cap`.

    Packs arrive compressed, and a repository may hold more than its one
    commit's tree, hence a cap above the unpacked limit.
    """
    deadline = time.monotonic() + timeout_s
    try:
        while process.poll() is None:
            if time.monotonic() > deadline:
                raise UpstreamUnavailableError(f"Fetching {url} took longer than "
                                               f"{timeout_s:g} s.")
            if _size_of(repo) > cap:
                raise PayloadTooLargeError(f"The repository at {url} is larger than this "
                                           "platform accepts for a course.")
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _size_of(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:
            continue
    return total

