"""Importing a course from a local git repository at a given commit.

The tree at the commit is exported with `git archive` (so uncommitted changes
never leak into a published version) and unpacked safely; the resolved commit
is recorded in the course version.
"""

from __future__ import annotations

import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

from panlearn.errors import InvalidInputError


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


def export_commit(repo: Path, ref: str, target: Path) -> str:
    """Unpack the tree of `ref` into `target`; returns the full commit sha."""
    if ref.startswith("-"):
        raise InvalidInputError(f"{ref!r} is not a git revision.", errors={"ref": ["invalid"]})
    try:
        commit = _git(repo, "rev-parse", "--verify", "--end-of-options",
                      f"{ref}^{{commit}}").decode().strip()
    except InvalidInputError:
        raise InvalidInputError(f"{ref!r} is not a commit, branch or tag of {repo}.",
                                errors={"ref": ["unknown revision"]}) from None
    archive = _git(repo, "archive", "--format=tar", commit)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        # The "data" filter refuses absolute paths, `..`, links out of the tree and devices.
        tar.extractall(target, filter="data")
    return commit
