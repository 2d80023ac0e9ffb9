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
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_vendor_json_pins_exact_versions_of_katex_and_reveal_js():
    pins = assets.pinned()
    assert set(pins) == {"katex", "reveal.js"}
    assert all(version[0].isdigit() for version in pins.values())


def test_install_runs_npm_with_the_prefix_and_without_lifecycle_scripts(vendor_dir, tmp_path):
    assert len(assets.problems()) == 2
    assets.install(npm=str(fake_npm(tmp_path)))
    args = json.loads((vendor_dir / "npm-args.json").read_text())
    assert args[:3] == ["install", "--prefix", str(vendor_dir)]
    assert "--ignore-scripts" in args
    package = json.loads((vendor_dir / "package.json").read_text())
    assert package["dependencies"] == assets.pinned() and package["private"] is True
    assert assets.problems() == []
    assert assets.available() == frozenset(assets.pinned())


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
