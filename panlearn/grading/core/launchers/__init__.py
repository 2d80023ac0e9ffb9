"""Launchers make sandboxes: forked from a warm zygote, started by bubblewrap, or unconfined.

- `ZygoteLauncher` (``PANLEARN_SANDBOX=zygote``): one zygote per exercise
  environment (what it preloads) forks each sandbox and the child isolates
  itself (`zygote`): about 30 ms of CPU instead of a Python start and the
  scientific stack's imports.
- `BubblewrapLauncher` (``bubblewrap``): the fallback where unprivileged
  namespaces are not allowed: bubblewrap starts a fresh interpreter per
  sandbox.
- `UnconfinedLauncher` (``none``): no isolation at all, for local authoring only.

``auto`` (the default) takes the zygote where a probe sandbox starts, else
bubblewrap, and says which at start. Every launcher puts each sandbox in a
cgroup of its own when it can create one (`cgroups`), so memory and process
limits hold for the whole submission, and reports which limits it cannot
enforce.
"""

from __future__ import annotations

import logging

from ..errors import KernelStartError, SandboxUnavailableError
from ..settings import GradingSettings
from .base import Launcher
from .bubblewrap import BubblewrapLauncher
from .unconfined import UnconfinedLauncher
from .zygotes import ZygoteLauncher

log = logging.getLogger(__name__)


def make_launcher(settings: GradingSettings) -> Launcher:
    """The launcher ``settings.sandbox`` asks for; ``auto`` probes the zygote first.

    Logs which sandbox grading uses and every limit it cannot enforce; raises
    `SandboxUnavailableError` when the one asked for cannot run here.
    """
    mode = settings.sandbox
    if mode not in ("auto", "zygote", "bubblewrap", "none"):
        raise SandboxUnavailableError(
            f"unknown sandbox {mode!r}: use 'auto', 'zygote', 'bubblewrap' or 'none'")
    launcher: Launcher
    if mode in ("auto", "zygote"):
        zygotes = ZygoteLauncher(settings)
        try:
            try:
                zygotes.probe()
            except (SandboxUnavailableError, KernelStartError, OSError) as first:
                # Once more before settling for the slower sandbox for the worker's life.
                log.warning("grading: the zygote probe failed (%s); trying once more", first)
                zygotes.probe()
            launcher = zygotes
        except (SandboxUnavailableError, KernelStartError, OSError) as error:
            zygotes.close()
            if mode == "zygote":
                raise SandboxUnavailableError(
                    f"the zygote sandbox cannot run here: {error}") from error
            log.warning("grading: the zygote sandbox cannot run here (%s); using bubblewrap",
                        error)
            launcher = BubblewrapLauncher(settings)
    elif mode == "bubblewrap":
        launcher = BubblewrapLauncher(settings)
    else:
        launcher = UnconfinedLauncher(settings)
        launcher.weak_limits.insert(0, "isolation (PANLEARN_SANDBOX=none)")
    log.info("grading: %s", launcher.describe())
    for weak in launcher.weak_limits:
        log.warning("grading: cannot enforce %s", weak)
    return launcher
