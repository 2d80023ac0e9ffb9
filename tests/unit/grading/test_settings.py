"""The grading limits: declared once in `panlearn.config`, mapped once onto `GradingSettings`."""

from __future__ import annotations

from dataclasses import fields

from panlearn.config import load_settings
from panlearn.grading.core.settings import GradingSettings, grading_settings

#: Fields `grading_settings` derives from settings other than their own default.
_DERIVED = {"max_output_bytes", "data_dirs"}


def test_the_core_defaults_are_the_declared_settings_defaults(tmp_path):
    mapped = grading_settings(load_settings({}, {"INSTANCE_DIR": str(tmp_path)}))
    plain = GradingSettings()
    for field in fields(GradingSettings):
        if field.name in _DERIVED or field.name == "work_dir":
            continue
        assert getattr(mapped, field.name) == getattr(plain, field.name), field.name


def test_environment_variables_reach_the_core(tmp_path):
    values = load_settings({
        "PANLEARN_SANDBOX": "bubblewrap",
        "PANLEARN_GRADING_CELL_TIMEOUT_S": "7.5",
        "PANLEARN_GRADING_MEMORY_MB": "512",
        "PANLEARN_GRADING_PRELOAD": " numpy, scipy.signal ,,",
        "PANLEARN_MAX_UPLOAD_MB": "1",
    }, {"INSTANCE_DIR": str(tmp_path)})
    settings = grading_settings(values)
    assert settings.sandbox == "bubblewrap"
    assert settings.cell_timeout_s == 7.5 and settings.memory_mb == 512
    assert settings.preload_modules == ("numpy", "scipy.signal")
    assert settings.max_output_bytes == 1024 * 1024


def test_data_files_are_bound_from_the_one_data_cache(tmp_path):
    default = grading_settings(load_settings({}, {"INSTANCE_DIR": str(tmp_path)}))
    assert default.data_dirs == ((tmp_path / "data-cache").resolve(),)
    elsewhere = tmp_path / "elsewhere"
    chosen = grading_settings(load_settings({"PANLEARN_DATA_CACHE_DIR": str(elsewhere)},
                                            {"INSTANCE_DIR": str(tmp_path)}))
    assert chosen.data_dirs == (elsewhere.resolve(),)
