"""Front-end libraries (KaTeX, reveal.js) installed from the npm registry at setup.

They are never committed and never loaded from a CDN: slides must work in a
lecture hall without internet, and a page must not tell a third party who reads
it. `panlearn/static/vendor.json` pins the npm packages; this module installs
them with npm into `panlearn/static/vendor/` (git-ignored) and tells the web
layer which are present, so that a page without them still works (maths then
shows as TeX source) and the log says how to fix it.

    python -m panlearn.web.assets install   # what scripts/bootstrap runs
    python -m panlearn.web.assets status
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
#: The pinned npm packages: `{"dependencies": {name: exact version}}`.
MANIFEST = STATIC_DIR / "vendor.json"
#: npm's `--prefix`: holds the generated package.json and node_modules/.
VENDOR_DIR = STATIC_DIR / "vendor"
MODULES_DIR = VENDOR_DIR / "node_modules"

INSTALL_HINT = "run `.venv/bin/python -m panlearn.web.assets install` (needs npm)"

log = logging.getLogger(__name__)


@cache
def pinned() -> dict[str, str]:
    """The npm packages and exact versions the platform serves (read once)."""
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return dict(data["dependencies"])


def installed_version(name: str) -> str | None:
    """The version of an installed package, or None when it is not installed."""
    try:
        data = json.loads((MODULES_DIR / name / "package.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    version = data.get("version")
    return version if isinstance(version, str) else None


def package_dir(name: str) -> Path | None:
    """Where a pinned package is installed, or None (unknown name or not installed)."""
    if name not in pinned() or installed_version(name) is None:
        return None
    return MODULES_DIR / name


def available() -> frozenset[str]:
    """The pinned packages that are installed (whatever their version)."""
    return frozenset(name for name in pinned() if installed_version(name) is not None)


def problems() -> list[str]:
    """What is missing or at another version than pinned, one line each."""
    found = []
    for name, wanted in sorted(pinned().items()):
        have = installed_version(name)
        if have is None:
            found.append(f"{name} {wanted} is not installed")
        elif have != wanted:
            found.append(f"{name} is {have}, vendor.json pins {wanted}")
    return found


def install(npm: str | None = None) -> None:
    """Install the pinned packages with npm; does nothing when they are all in place.

    Lifecycle scripts are disabled (`--ignore-scripts`): we need the files of
    these packages, never code of theirs run on the server.
    """
    if not problems():
        log.info("front-end assets up to date: %s", ", ".join(sorted(pinned())))
        return
    executable = npm or shutil.which("npm")
    if executable is None:
        raise SystemExit("npm not found: install Node.js and npm (Debian: apt-get install npm)")
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    package = {
        "name": "panlearn-vendor",
        "private": True,
        "description": f"Generated from {MANIFEST.name}; do not edit.",
        "dependencies": pinned(),
    }
    (VENDOR_DIR / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    subprocess.run(
        [executable, "install", "--prefix", str(VENDOR_DIR), "--no-audit", "--no-fund",
         "--ignore-scripts", "--omit=dev", "--loglevel=error"],
        check=True,
    )
    left = problems()
    if left:
        raise SystemExit("npm finished but: " + "; ".join(left))


def main(argv: list[str] | None = None) -> int:
    """Command line: `install` or `status`."""
    parser = argparse.ArgumentParser(prog="python -m panlearn.web.assets",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["install", "status"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "install":
        install()
        print("front-end assets installed: " + ", ".join(
            f"{name} {installed_version(name)}" for name in sorted(pinned())))
        return 0
    left = problems()
    for line in left:
        print(line)
    if not left:
        print("all front-end assets installed")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
