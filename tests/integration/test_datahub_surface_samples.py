"""The sample events of the DataHub CSV upload and dataset routes (events/make_datahub.py): each gets
its documented answer through the real handler, and the files are what the generator writes."""

from __future__ import annotations

import pytest

from ingest import catalog
from tests.conftest import EVENTS, load_event

ROUTES = ("datahub_events_csv", "list_datahub_datasets", "create_datahub_dataset", "get_datahub_dataset",
          "update_datahub_dataset", "delete_datahub_dataset", "delete_datahub_datasets")
SAMPLES = sorted((route, path.stem) for route in ROUTES for path in (EVENTS / route).glob("*.json"))


def expected(route: str, sample: str) -> set[int]:
    if sample.startswith("missing_"):
        return {401}
    if sample.startswith("invalid_"):
        return {400}
    if sample == "valid_create_once":  # 201 once per tenant, then 409
        return {201, 409}
    if sample.startswith("valid_"):
        return {catalog.get(route).success_status}
    return {200, 404}  # *_after_guide_sample: 404 until the guide sample is ingested


def test_every_new_route_has_samples_of_success_and_refusal():
    assert {route for route, _ in SAMPLES} == set(ROUTES)
    assert {name for route, name in SAMPLES if route == "datahub_events_csv"} >= {
        "valid_guide_csv", "valid_guide_csv_gzip", "valid_guide_csv_zip", "invalid_bom", "invalid_zip_of_two_files"}


@pytest.mark.parametrize(("route", "sample"), SAMPLES, ids=[f"{r}/{s}" for r, s in SAMPLES])
def test_every_sample_gets_its_documented_answer(invoke, route, sample):
    status, headers, body = invoke(route, load_event(route, sample))
    assert status in expected(route, sample), body
    assert headers["X-Request-Id"]
    if status >= 400:
        assert set(body) == {"error"}


def test_the_guide_sample_then_the_dataset_samples_find_it(invoke):
    assert invoke("datahub_events", load_event("datahub_events", "valid_guide_sample"))[0] == 201
    status, _, dataset = invoke("get_datahub_dataset", load_event("get_datahub_dataset", "datadog_after_guide_sample"))
    assert status == 200 and dataset["name"] == "Datadog" and dataset["records"] >= 1
    assert invoke("update_datahub_dataset", load_event("update_datahub_dataset", "datadog_after_guide_sample"))[0] == 200


def test_the_sample_files_are_what_the_generator_writes(tmp_path, monkeypatch):
    from events import make_datahub

    monkeypatch.setattr(make_datahub, "HERE", tmp_path)
    make_datahub.main()
    for route in ROUTES:
        for path in (tmp_path / route).glob("*.json"):
            assert path.read_text() == (EVENTS / route / path.name).read_text(), f"{route}/{path.name}"
