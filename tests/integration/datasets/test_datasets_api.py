"""The datasets API and CLI through the real app, against the local PaNOSC server."""

from __future__ import annotations

import pytest

from panlearn import create_app
from panlearn.wiring import services_of
from tests.conftest import REPO_ROOT


@pytest.fixture
def data_app(server, shared_data_dir, tmp_path):
    """An app whose PaNOSC endpoint is the local federated server (no database needed)."""
    return create_app({
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "PANOSC_URL": server.url("federated"),
        "PANOSC_READ_TIMEOUT": 2.0,
        "PANOSC_RETRIES": 0,
        "DATA_DIRS": [str(shared_data_dir / "nexus")],
        "CONTENT_DIR": str(REPO_ROOT / "content"),
        "TESTING": True,
        "GRADING_WORKERS": 0,  # no grading here: start no worker processes
    })


def test_search_returns_scored_results_with_provider(data_app, server):
    response = data_app.test_client().get("/api/datasets?q=PaNOSC%20test%20dataset&limit=3")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert len(body["items"]) == 3 and body["stale"] is False
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert {item["provider"] for item in body["items"]} <= {
        server.url("provider1"), server.url("provider2")}


def test_get_by_pid_with_slashes_and_files(data_app):
    client = data_app.test_client()
    for url in ("/api/datasets/20.500.12269/panosc-dataset2",
                "/api/datasets/20.500.12269%2Fpanosc-dataset2"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.get_json()["dataset"]["pid"] == "20.500.12269/panosc-dataset2"
    files = client.get("/api/datasets/20.500.12269/panosc-dataset2/files").get_json()
    assert files["source"] == "panosc" and files["files"][0]["name"] == "panosc-file2.hdf"


def test_registry_dataset_files_have_url_and_checksum(data_app):
    body = data_app.test_client().get("/api/datasets/psi-sinq-dmc-gasb-2005/files").get_json()
    assert body["source"] == "registry"
    [dmc] = body["files"]
    assert dmc["name"] == "dmc01.h5" and len(dmc["sha256"]) == 64
    assert dmc["url"].startswith("https://")


def test_upstream_errors_become_problems(data_app, server):
    client = data_app.test_client()
    assert client.get("/api/datasets/20.500.12269/nope").status_code == 404
    assert client.get("/api/datasets?limit=0").status_code == 422
    for fault, status in (("500", 502), ("garbage", 502), ("timeout", 504)):
        app = create_app({**data_app.config["PANLEARN"],
                          "PANOSC_URL": server.url(f"fault/{fault}/federated"),
                          "PANOSC_CACHE_DIR": None})
        response = app.test_client().get("/api/datasets?q=beam")
        assert response.status_code == status, fault
        assert response.content_type == "application/problem+json"


def test_stale_answer_is_served_when_the_upstream_goes_away(data_app, server):
    client = data_app.test_client()
    assert client.get("/api/datasets?q=beam").get_json()["stale"] is False
    services_of(data_app).datasets.client.ttl = 0
    server.outage = "503"
    body = client.get("/api/datasets?q=beam").get_json()
    assert body["stale"] is True


def test_cli_search_show_fetch_verify(data_app):
    runner = data_app.test_cli_runner()
    result = runner.invoke(args=["datasets", "search", "PaNOSC test dataset"])
    assert result.exit_code == 0, result.output
    assert "20.500.12269/panosc-dataset" in result.output
    result = runner.invoke(args=["datasets", "show", "20.500.12269/panosc-dataset2"])
    assert result.exit_code == 0 and "ODIN" in result.output
    result = runner.invoke(args=["datasets", "fetch", "psi-sinq-dmc-gasb-2005"])
    assert result.exit_code == 0, result.output
    assert "dmc01.h5" in result.output
    result = runner.invoke(args=["datasets", "verify"])
    assert result.exit_code == 0 and "1 file(s) checked, all intact" in result.output
    result = runner.invoke(args=["datasets", "fetch", "no-such-dataset"])
    assert result.exit_code == 1 and "Traceback" not in result.output
