"""The zygote launcher's environments: one zygote per set of third-party packages, grown
to import what each of its exercises asks, and sandboxes that outlive a retired zygote."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest

from panlearn.grading.core.errors import SandboxUnavailableError
from panlearn.grading.core.launchers import make_launcher
from panlearn.grading.core.launchers.bubblewrap import BubblewrapLauncher
from panlearn.grading.core.launchers.zygotes import ZygoteLauncher, environment_of, root_plan
from panlearn.grading.core.settings import GradingSettings

pytestmark = pytest.mark.slow

BASE = ("numpy", "h5py")


def test_an_environment_is_its_third_party_top_level_packages() -> None:
    assert environment_of(("numpy", "h5py", "scipy.optimize")) == ("h5py", "numpy", "scipy")
    assert environment_of(("numpy", "scipy.signal", "h5py")) == ("h5py", "numpy", "scipy")
    # The standard library never makes an environment of its own.
    assert environment_of(("numpy", "h5py", "json", "urllib.request")) == ("h5py", "numpy")
    assert environment_of(()) == ()


@pytest.fixture
def launcher(grading_settings: GradingSettings) -> Iterator[ZygoteLauncher]:
    with_zygote = replace(grading_settings, sandbox="zygote", zygotes=2)
    zygotes = ZygoteLauncher(with_zygote)
    try:
        yield zygotes
    finally:
        zygotes.close()


def run(kernel_launcher: ZygoteLauncher, preload: tuple[str, ...], code: str) -> str:
    """Start a kernel forked for ``preload`` and return what ``code`` prints in it."""
    from jupyter_client.blocking import BlockingKernelClient

    kernel = kernel_launcher.start_kernel(preload)
    try:
        kernel.wait_ready(60)
        client = BlockingKernelClient()
        client.load_connection_info(kernel.client_connection())
        client.start_channels()
        try:
            client.wait_for_ready(30)
            out: list[str] = []
            client.execute_interactive(code, timeout=30, output_hook=lambda msg: out.append(
                msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None)
            return "".join(out).strip()
        finally:
            client.stop_channels()
    finally:
        kernel.kill()


def test_exercises_of_one_environment_share_a_zygote_that_grows(
    launcher: ZygoteLauncher,
) -> None:
    first = launcher.zygote((*BASE, "colorsys"))
    assert launcher.zygote(BASE) is first  # a subset: the same zygote
    grown = launcher.zygote((*BASE, "fractions"))
    assert grown is not first and not first.is_alive()
    assert grown.preload == (*BASE, "colorsys", "fractions")
    assert launcher.zygotes() == [grown]
    assert run(launcher, BASE, "import sys; print('colorsys' in sys.modules,"
               " 'fractions' in sys.modules)") == "True True"


def test_a_sandbox_outlives_the_zygote_it_was_forked_from(launcher: ZygoteLauncher) -> None:
    from jupyter_client.blocking import BlockingKernelClient

    kernel = launcher.start_kernel(BASE)
    try:
        kernel.wait_ready(60)
        launcher.zygote((*BASE, "colorsys"))  # replaces the zygote the kernel came from
        launcher.zygote(("matplotlib",))
        launcher.zygote(("scipy",))  # and evicts it: two zygotes at most here
        assert len(launcher.zygotes()) == 2
        client = BlockingKernelClient()
        client.load_connection_info(kernel.client_connection())
        client.start_channels()
        try:
            client.wait_for_ready(30)
            reply = client.execute_interactive("x = 6 * 7", timeout=30)
            assert reply["content"]["status"] == "ok"
        finally:
            client.stop_channels()
    finally:
        kernel.kill()


def test_an_environment_under_tmp_is_refused_with_a_reason_and_auto_uses_bubblewrap(
        grading_settings: GradingSettings, tmp_path, caplog) -> None:
    # A checkout under /tmp: each sandbox's own /tmp would hide the interpreter's files
    # from the children (they died at once, "the probe sandbox did not answer").
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    settings = replace(grading_settings, python=str(venv / "bin" / "python"))
    with pytest.raises(SandboxUnavailableError, match="PANLEARN_SANDBOX=bubblewrap"):
        root_plan(settings, tmp_path / "root")
    with pytest.raises(SandboxUnavailableError, match=f"{venv} is under /tmp"):
        make_launcher(replace(settings, sandbox="zygote"))
    if shutil.which("bwrap"):
        chosen = make_launcher(replace(settings, sandbox="auto"))
        try:
            assert isinstance(chosen, BubblewrapLauncher)
        finally:
            chosen.close()
        assert "is under /tmp" in caplog.text


def test_a_data_cache_not_made_yet_is_made_rather_than_failing_the_zygote(
    grading_settings: GradingSettings, tmp_path
) -> None:
    """A fresh instance offline (`flask setup` before any download) has no data cache yet:
    the zygote must start (it fell back to bubblewrap, or failed under PANLEARN_SANDBOX=zygote)."""
    cache = tmp_path / "instance" / "data-cache"
    settings = replace(grading_settings, sandbox="zygote", zygotes=1, data_dirs=(cache,))
    zygotes = ZygoteLauncher(settings)
    try:
        assert run(zygotes, BASE, "print('started')") == "started"
        assert cache.is_dir()
    finally:
        zygotes.close()
