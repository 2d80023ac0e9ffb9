"""Front-end libraries (KaTeX, reveal.js) installed from the npm registry at setup.

They are never committed and never loaded from a CDN: slides must work in a
lecture hall without internet, and a page must not tell a third party who reads
it. `panlearn/static/vendor.json` pins the npm packages; this module installs
them with npm into `panlearn/static/vendor/` (git-ignored) and tells the web
layer which are present, so that a page without them still works (maths then
shows as TeX source) and the log says how to fix it.

    python -m panlearn.web.assets install          # what scripts/bootstrap runs
    python -m panlearn.web.assets install --test   # also the tests' own (axe-core)
    python -m panlearn.web.assets status

Packages that only the tests use (axe-core, for the accessibility checks) are
pinned in `tests/web/vendor.json` and installed beside it, never under
`static/`: the platform does not serve them.
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
#: The tests' own npm packages (a checkout only; not part of an installed package).
TEST_MANIFEST = STATIC_DIR.parent.parent / "tests" / "web" / "vendor.json"
TEST_VENDOR_DIR = TEST_MANIFEST.parent / "vendor"

INSTALL_HINT = "run `.venv/bin/python -m panlearn.web.assets install` (needs npm)"

log = logging.getLogger(__name__)


@cache
def pinned(manifest: Path | None = None) -> dict[str, str]:
    """The npm packages and exact versions the platform serves (read once), or `manifest`'s."""
    data = json.loads((manifest or MANIFEST).read_text(encoding="utf-8"))
    return dict(data["dependencies"])


def installed_version(name: str, modules_dir: Path | None = None) -> str | None:
    """The version of an installed package, or None when it is not installed."""
    folder = modules_dir or MODULES_DIR
    try:
        data = json.loads((folder / name / "package.json").read_text(encoding="utf-8"))
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


def problems(manifest: Path | None = None, vendor_dir: Path | None = None) -> list[str]:
    """What is missing or at another version than pinned, one line each."""
    found = []
    modules_dir = vendor_dir / "node_modules" if vendor_dir is not None else None
    for name, wanted in sorted(pinned(manifest).items()):
        have = installed_version(name, modules_dir)
        if have is None:
            found.append(f"{name} {wanted} is not installed")
        elif have != wanted:
            found.append(f"{name} is {have}, vendor.json pins {wanted}")
    return found


def install(npm: str | None = None, *, manifest: Path | None = None,
            vendor_dir: Path | None = None) -> None:
    """Install the pinned packages with npm; does nothing when they are all in place.

    Lifecycle scripts are disabled (`--ignore-scripts`): we need the files of
    these packages, never code of theirs run on the server. `manifest` and
    `vendor_dir` name another set (the tests' own) and where it goes.
    """
    vendor_dir = vendor_dir or VENDOR_DIR
    if not problems(manifest, vendor_dir):
        log.info("front-end assets up to date: %s", ", ".join(sorted(pinned(manifest))))
        return
    executable = npm or shutil.which("npm")
    if executable is None:
        raise SystemExit("npm not found: install Node.js and npm (Debian: apt-get install npm)")
    vendor_dir.mkdir(parents=True, exist_ok=True)
    package = {
        "name": "panlearn-vendor",
        "private": True,
        "description": f"Generated from {(manifest or MANIFEST).name}; do not edit.",
        "dependencies": pinned(manifest),
    }
    (vendor_dir / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    subprocess.run(
        [executable, "install", "--prefix", str(vendor_dir), "--no-audit", "--no-fund",
         "--ignore-scripts", "--omit=dev", "--loglevel=error"],
        check=True,
    )
    left = problems(manifest, vendor_dir)
    if left:
        raise SystemExit("npm finished but: " + "; ".join(left))


def main(argv: list[str] | None = None) -> int:
    """Command line: `install` or `status`."""
    parser = argparse.ArgumentParser(prog="python -m panlearn.web.assets",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["install", "status"])
    parser.add_argument("--test", action="store_true",
                        help="also install the tests' own packages (tests/web/vendor.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "install":
        install()
        print("front-end assets installed: " + ", ".join(
            f"{name} {installed_version(name)}" for name in sorted(pinned())))
        if args.test:
            if not TEST_MANIFEST.is_file():
                raise SystemExit(f"{TEST_MANIFEST} not found: --test needs a checkout")
            install(manifest=TEST_MANIFEST, vendor_dir=TEST_VENDOR_DIR)
            modules = TEST_VENDOR_DIR / "node_modules"
            print("test assets installed: " + ", ".join(
                f"{name} {installed_version(name, modules)}"
                for name in sorted(pinned(TEST_MANIFEST))))
        return 0
    left = problems()
    for line in left:
        print(line)
    if not left:
        print("all front-end assets installed")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
