"""Open datasets: federated PaNOSC search for authors picking data, and dataset files."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from panlearn.datasets.service import get_dataset, list_dataset_files, search_datasets
from panlearn.datasets.settings import DatasetsContext
from panlearn.schemas.datasets import (
    DatasetFileListSchema,
    DatasetResultSchema,
    DatasetSearchArgsSchema,
    DatasetSearchResultSchema,
)
from panlearn.wiring import services

bp = Blueprint("datasets", __name__, url_prefix="/api/datasets",
               description="Open PaN datasets (PaNOSC federated search)")


def _context() -> DatasetsContext:
    return services().datasets


@bp.route("")
@bp.arguments(DatasetSearchArgsSchema, location="query")
@bp.response(200, DatasetSearchResultSchema)
def search(args: dict[str, Any]) -> Any:
    """Search open datasets across facilities; with `q`, ranked by score."""
    return search_datasets(client=_context().client, **args)


@bp.route("/<path:pid>/files")
@bp.response(200, DatasetFileListSchema)
def files(pid: str) -> Any:
    """A dataset's files: from the registry (with URL and sha256) or from PaNOSC."""
    context = _context()
    return list_dataset_files(pid, registry=context.registry, client=context.client)


@bp.route("/<path:pid>")
@bp.response(200, DatasetResultSchema)
def get_one(pid: str) -> dict[str, Any]:
    """One dataset by its pid (pids contain `/`; send them URL-encoded or as they are)."""
    fetched = get_dataset(pid, client=_context().client)
    return {"dataset": fetched.value, "stale": fetched.stale, "fetched_at": fetched.fetched_at}
