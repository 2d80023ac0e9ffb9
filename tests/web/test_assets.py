"""Front-end assets: installed by npm from vendor.json, reported when missing."""

from __future__ import annotations

import json
import logging
import stat
import sys
from pathlib import Path

import pytest

from panlearn.web import assets


@pytest.fixture
def vendor_dir(tmp_path, monkeypatch) -> Path:
    """An empty vendor folder in place of panlearn/static/vendor."""
    folder = tmp_path / "vendor"
    monkeypatch.setattr(assets, "VENDOR_DIR", folder)
    monkeypatch.setattr(assets, "MODULES_DIR", folder / "node_modules")
    return folder


#: The fake esbuild that `fake_npm` installs: it writes the bundle and a metafile.
ESBUILD = """#!PYTHON
import json, sys
from pathlib import Path
options = dict(a[2:].split("=", 1) for a in sys.argv[2:] if a.startswith("--") and "=" in a)
out = Path(options["outfile"])
out.write_text("var " + options["global-name"] + " = {};")
Path(options["metafile"]).write_text(json.dumps({"inputs": {
    "node_modules/@codemirror/view/dist/index.js": {}}}))
(out.parent / "esbuild-args.json").write_text(json.dumps(sys.argv[1:]))
"""


def fake_npm(tmp_path: Path, *, versions: dict[str, str] | None = None) -> Path:
    """An `npm` that records its arguments and installs package.json files only."""
    script = tmp_path / "npm"
    script.write_text(f"""#!{sys.executable}
import json, sys
from pathlib import Path
args = sys.argv[1:]
prefix = Path(args[args.index("--prefix") + 1])
(prefix / "npm-args.json").write_text(json.dumps(args))
wanted = json.loads((prefix / "package.json").read_text())["dependencies"]
wanted.update({json.dumps(versions or {})})
for name, version in wanted.items():
    folder = prefix / "node_modules" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({{"name": name, "version": version}}))
# esbuild: writes the bundle it is asked for, and a metafile naming one input package.
esbuild = prefix / "node_modules" / ".bin" / "esbuild"
esbuild.parent.mkdir(parents=True, exist_ok=True)
esbuild.write_text({ESBUILD!r}.replace("PYTHON", sys.executable))
esbuild.chmod(0o755)
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_vendor_json_pins_exact_versions_of_katex_and_reveal_js():
    pins = assets.pinned()
    assert set(pins) == {"katex", "reveal.js"}
    assert all(version[0].isdigit() for version in assets.npm_packages().values())
    # CodeMirror is served only as the bundle built from its packages.
    assert "@codemirror/view" in assets.npm_packages() and "esbuild" in assets.npm_packages()
    assert set(assets.bundles()) == {"codemirror.js"}


def test_install_runs_npm_with_the_prefix_and_without_lifecycle_scripts(vendor_dir, tmp_path):
    assert len(assets.problems()) == len(assets.npm_packages()) + len(assets.bundles())
    assets.install(npm=str(fake_npm(tmp_path)))
    args = json.loads((vendor_dir / "npm-args.json").read_text())
    assert args[:3] == ["install", "--prefix", str(vendor_dir)]
    assert "--ignore-scripts" in args
    package = json.loads((vendor_dir / "package.json").read_text())
    assert package["dependencies"] == assets.npm_packages() and package["private"] is True
    assert assets.problems() == []
    assert assets.available() == frozenset(assets.pinned())


def test_bundles_are_built_with_the_pinned_esbuild_and_rebuilt_when_stale(vendor_dir, tmp_path):
    assets.install(npm=str(fake_npm(tmp_path)))
    built = vendor_dir / "bundles"
    args = json.loads((built / "esbuild-args.json").read_text())
    assert args[0].endswith("static/js/editor/codemirror.mjs")
    assert {"--bundle", "--format=iife", "--global-name=PanlearnCodeMirror"} <= set(args)
    assert assets.bundle_path("codemirror.js") == built / "codemirror.js"
    assert assets.bundle_path("codemirror.js.LICENSES.txt") is not None
    assert "== @codemirror/view" in (built / "codemirror.js.LICENSES.txt").read_text()
    assert assets.bundle_path("anything-else.js") is None
    # A bundle built from other inputs (another entry, another pin) is rebuilt.
    stamp = built / "codemirror.js.build.json"
    stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "entry": "0" * 64}))
    assert assets.problems() == ["the bundle codemirror.js is out of date"]
    assets.install(npm=str(fake_npm(tmp_path)))
    assert assets.problems() == []


def test_install_does_nothing_when_everything_is_in_place(vendor_dir, tmp_path):
    assets.install(npm=str(fake_npm(tmp_path)))
    (vendor_dir / "npm-args.json").unlink()
    assets.install(npm="/nonexistent/npm")
    assert not (vendor_dir / "npm-args.json").exists()


def test_a_wrong_version_after_npm_is_an_error(vendor_dir, tmp_path):
    with pytest.raises(SystemExit, match="katex is 0.0.1"):
        assets.install(npm=str(fake_npm(tmp_path, versions={"katex": "0.0.1"})))


def test_missing_assets_are_logged_with_the_install_command(vendor_dir, tmp_path, caplog):
    from panlearn import create_app

    with caplog.at_level(logging.WARNING, logger="panlearn.web"):
        app = create_app({"INSTANCE_DIR": str(tmp_path / "instance"),
                          "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                          "GRADING_WORKERS": 0})
    assert "python -m panlearn.web.assets install" in caplog.text
    assert "katex 0.16" in caplog.text
    client = app.test_client()
    with client.get("/static/vendor/katex/dist/katex.min.js") as response:
        assert response.status_code == 404
