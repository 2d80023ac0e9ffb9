"""Settings come from PANLEARN_* variables, with safe defaults and clear errors."""

from __future__ import annotations

import re

import pytest

from panlearn.config import SETTINGS, ConfigurationError, load_settings
from tests.conftest import REPO_ROOT


def test_defaults_put_everything_under_the_instance_dir(tmp_path):
    values = load_settings({"PANLEARN_INSTANCE_DIR": str(tmp_path)})
    assert values["DATABASE_URL"] == f"sqlite:///{tmp_path / 'panlearn.sqlite3'}"
    assert values["MAX_UPLOAD_MB"] == 20
    # Development generates a random key once and keeps it.
    assert len(values["SECRET_KEY"]) > 40
    assert load_settings({"PANLEARN_INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"] == (
        values["SECRET_KEY"])
    assert load_settings({"PANLEARN_INSTANCE_DIR": str(tmp_path / "b")})["SECRET_KEY"] != (
        values["SECRET_KEY"])


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {"PANLEARN_ENV": "production", "PANLEARN_INSTANCE_DIR": str(tmp_path)}
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_settings(env)
    assert load_settings({**env, "PANLEARN_SECRET_KEY": "s3cret"})["SECRET_KEY"] == "s3cret"


def test_malformed_values_are_named(tmp_path):
    with pytest.raises(ConfigurationError, match="PANLEARN_MAX_UPLOAD_MB='lots'"):
        load_settings({"PANLEARN_MAX_UPLOAD_MB": "lots", "PANLEARN_INSTANCE_DIR": str(tmp_path)})
    with pytest.raises(ConfigurationError, match="unknown settings: NOPE"):
        load_settings({}, {"NOPE": 1})


def test_create_app_maps_upload_limit(tmp_path):
    from panlearn import create_app

    app = create_app({"INSTANCE_DIR": str(tmp_path), "MAX_UPLOAD_MB": 3})
    assert app.config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024


def test_readme_documents_every_setting():
    readme = (REPO_ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(PANLEARN_[A-Z_]+)`", readme, flags=re.MULTILINE))
    assert documented == {setting.env for setting in SETTINGS}


def test_json_logs_are_one_object_a_line(tmp_path, capsys):
    import json
    import logging

    from panlearn.ops.logs import JsonFormatter, configure_logging

    logger = logging.getLogger("panlearn")
    before = list(logger.handlers), logger.propagate
    try:
        configure_logging("json", "INFO")
        logging.getLogger("panlearn.test").warning("graded %s", 7, extra={"submission": 7})
        line = capsys.readouterr().err.strip().splitlines()[-1]
        entry = json.loads(line)
        assert entry["message"] == "graded 7" and entry["submission"] == 7
        assert entry["level"] == "WARNING" and entry["logger"] == "panlearn.test"
    finally:
        logger.handlers = [h for h in logger.handlers if not isinstance(h.formatter,
                                                                        JsonFormatter)]
        logger.handlers[:0] = [h for h in before[0] if h not in logger.handlers]
        logger.propagate = before[1]
    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        load_settings({"PANLEARN_LOG_FORMAT": "xml", "PANLEARN_INSTANCE_DIR": str(tmp_path)})
