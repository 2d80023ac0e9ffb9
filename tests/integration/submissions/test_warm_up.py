"""A worker prepares the published exercises' sandboxes before their first submission."""

from __future__ import annotations

import pytest

from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.grading.core.launchers.zygotes import ZygoteLauncher, environment_of
from panlearn.grading.runtime import build_context, published_imports, start_warm_up
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

COURSE = "powder-diffraction"


def test_a_worker_starts_the_zygote_of_every_published_exercise_environment(grading_app):
    with grading_app.app_context():  # beside reading-nexus (numpy + h5py): scipy.signal
        import_courses(db.session, load_course_folders(REPO_ROOT / "courses" / COURSE),
                       publish=True)
    imports = published_imports(grading_app)
    assert ("h5py", "numpy") in imports
    assert any("scipy.signal" in modules for modules in imports)

    grading_app.config["PANLEARN"]["SANDBOX"] = "zygote"
    context = build_context(grading_app, warm_kernels=0)
    try:
        launcher = context.pool.launcher
        assert isinstance(launcher, ZygoteLauncher)
        before = {environment_of(z.preload) for z in launcher.zygotes()}
        start_warm_up(grading_app, context.pool).join(120)
        after = {environment_of(z.preload) for z in launcher.zygotes()}
        assert {("h5py", "numpy"), ("h5py", "numpy", "scipy")} <= after
        assert ("h5py", "numpy", "scipy") not in before
        scipy_zygote = next(z for z in launcher.zygotes() if "scipy" in environment_of(z.preload))
        # Started once with what all the environment's exercises import.
        assert {"scipy.signal", "scipy.optimize"} <= set(scipy_zygote.preload)
    finally:
        context.pool.close()
