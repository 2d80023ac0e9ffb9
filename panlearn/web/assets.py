"""Front-end libraries (KaTeX, reveal.js, CodeMirror) installed from the npm registry at setup.

They are never committed and never loaded from a CDN: slides must work in a
lecture hall without internet, and a page must not tell a third party who reads
it. `panlearn/static/vendor.json` pins the npm packages; this module installs
them with npm into `panlearn/static/vendor/` (git-ignored) and tells the web
layer which are present, so that a page without them still works (maths then
shows as TeX source, the live exercise page falls back to plain text areas)
and the log says how to fix it.

Three groups are pinned: `dependencies` are served file by file
(`/static/vendor/<package>/…`); `bundled` packages are ES modules (CodeMirror 6)
that browsers would fetch as dozens of files, so they are bundled at install
time, with the `tools` (esbuild), into one script per entry of `bundles`
(`/static/vendor/bundle/<name>`). A bundle records what it was built from and
is rebuilt when its entry file or a pinned version changes.

    python -m panlearn.web.assets install          # what scripts/bootstrap runs
    python -m panlearn.web.assets install --test   # also the tests' own (axe-core)
    python -m panlearn.web.assets status

Packages that only the tests use (axe-core, for the accessibility checks) are
pinned in `tests/web/vendor.json` and installed beside it, never under
`static/`: the platform does not serve them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

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
def _manifest(manifest: Path | None = None) -> dict[str, Any]:
    return dict(json.loads((manifest or MANIFEST).read_text(encoding="utf-8")))


def pinned(manifest: Path | None = None) -> dict[str, str]:
    """The npm packages and exact versions the platform serves (read once), or `manifest`'s."""
    return dict(_manifest(manifest)["dependencies"])


def npm_packages(manifest: Path | None = None) -> dict[str, str]:
    """Every package npm installs: those served, those bundled, and the bundling tools."""
    data = _manifest(manifest)
    return {**data["dependencies"], **data.get("bundled", {}), **data.get("tools", {})}


def bundles(manifest: Path | None = None) -> dict[str, dict[str, str]]:
    """The bundles to build: file name → {"entry": path under static/, "global": name}."""
    return dict(_manifest(manifest).get("bundles", {}))


def bundle_path(name: str) -> Path | None:
    """The built bundle of that name, or None (unknown, or not built)."""
    # Built under the vendor folder, beside what they are built from (`<name>.build.json`)
    # and the licences of what they hold (`<name>.LICENSES.txt`, served too).
    path = VENDOR_DIR / "bundles" / name
    known = name in bundles() or name.removesuffix(".LICENSES.txt") in bundles()
    return path if known and path.is_file() else None


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
    """What is missing, at another version than pinned, or a stale bundle; one line each."""
    found = []
    modules_dir = vendor_dir / "node_modules" if vendor_dir is not None else None
    for name, wanted in sorted(npm_packages(manifest).items()):
        have = installed_version(name, modules_dir)
        if have is None:
            found.append(f"{name} {wanted} is not installed")
        elif have != wanted:
            found.append(f"{name} is {have}, vendor.json pins {wanted}")
    folder = (vendor_dir or VENDOR_DIR) / "bundles"
    for name, spec in sorted(bundles(manifest).items()):
        try:
            built = json.loads((folder / f"{name}.build.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            built = None
        if built is None or not (folder / name).is_file():
            found.append(f"the bundle {name} is not built")
        elif built != _bundle_inputs(spec, manifest):
            found.append(f"the bundle {name} is out of date")
    return found


def _bundle_inputs(spec: dict[str, str], manifest: Path | None) -> dict[str, Any]:
    """What a bundle is built from: its entry's sha256, the global, every pinned version."""
    entry = (STATIC_DIR / spec["entry"]).read_bytes()
    return {"entry": hashlib.sha256(entry).hexdigest(), "global": spec["global"],
            "packages": npm_packages(manifest)}


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
        "dependencies": npm_packages(manifest),
    }
    (vendor_dir / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    subprocess.run(
        [executable, "install", "--prefix", str(vendor_dir), "--no-audit", "--no-fund",
         "--ignore-scripts", "--omit=dev", "--loglevel=error"],
        check=True,
    )
    build_bundles(manifest=manifest, vendor_dir=vendor_dir)
    left = problems(manifest, vendor_dir)
    if left:
        raise SystemExit("npm finished but: " + "; ".join(left))


def build_bundles(*, manifest: Path | None = None, vendor_dir: Path | None = None) -> None:
    """Bundle each entry of `bundles` with the pinned esbuild into one minified script.

    An IIFE that sets a global (no module loading, nothing evaluated from a
    string, so the pages' CSP stays `script-src 'self'`); the packages'
    licence comments go to `<name>.LEGAL.txt` beside it.
    """
    vendor_dir = vendor_dir or VENDOR_DIR
    folder = vendor_dir / "bundles"
    esbuild = vendor_dir / "node_modules" / ".bin" / "esbuild"
    for name, spec in sorted(bundles(manifest).items()):
        folder.mkdir(parents=True, exist_ok=True)
        meta = folder / f"{name}.meta.json"
        subprocess.run(
            [str(esbuild), str(STATIC_DIR / spec["entry"]), "--bundle", "--format=iife",
             f"--global-name={spec['global']}", "--minify", "--target=es2020",
             f"--banner:js=/*! {name}: npm packages bundled by panlearn; their licences are "
             f"in {name}.LICENSES.txt */", f"--metafile={meta}",
             "--legal-comments=linked", "--log-level=warning", f"--outfile={folder / name}"],
            # The entry lives in static/, outside node_modules: esbuild finds the packages
            # through NODE_PATH, as node would.
            check=True, cwd=vendor_dir,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                 "NODE_PATH": str(vendor_dir / "node_modules")},
        )
        _write_licences(meta, vendor_dir / "node_modules", folder / f"{name}.LICENSES.txt")
        (folder / f"{name}.build.json").write_text(
            json.dumps(_bundle_inputs(spec, manifest), indent=2) + "\n")


def _write_licences(metafile: Path, modules_dir: Path, target: Path) -> None:
    """The licence of every package esbuild put in a bundle (MIT asks for its notice)."""
    inputs = json.loads(metafile.read_text(encoding="utf-8")).get("inputs", {})
    packages = set()
    for path in inputs:
        parts = Path(path).parts
        if "node_modules" in parts:
            rest = parts[parts.index("node_modules") + 1:]
            packages.add("/".join(rest[:2]) if rest[0].startswith("@") else rest[0])
    notices = []
    for package in sorted(packages):
        folder = modules_dir / package
        licence = next((p for p in sorted(folder.glob("LICEN[CS]E*")) if p.is_file()), None)
        text = licence.read_text(encoding="utf-8", errors="replace") if licence else (
            "licence: " + json.loads((folder / "package.json").read_text()).get("license", "?"))
        notices.append(f"== {package} {installed_version(package, modules_dir) or ''}\n\n{text}")
    target.write_text("\n\n".join(notices), encoding="utf-8")
    metafile.unlink()


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
            f"{name} {installed_version(name)}" for name in sorted(npm_packages()))
            + "; bundles: " + ", ".join(sorted(bundles())))
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
