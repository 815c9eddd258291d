"""docs/cost.md is what bench.cost computes now from the prod template and the items the service
writes (as `make cost` computes it, in its own process); and the sizing rules the model rests on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import cost
from tests.infra.infra_synth import Synthesized

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]


def test_cost_doc_is_what_the_script_computes_from_the_prod_template(prod: Synthesized) -> None:
    # As `make cost` runs it: its own process and its own moto, so nothing another test left in this
    # process (logger keys, environment) changes the log bytes measured.
    template = prod.outdir / prod.stack.template_file
    check = subprocess.run([sys.executable, "-m", "bench.cost", "--env", "prod", "--template", str(template), "--check"],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert check.returncode == 0, f"docs/cost.md is stale: run `make synth ENV=prod && make cost ENV=prod`\n{check.stdout}{check.stderr}"


def test_the_model_reads_the_template(prod: Synthesized) -> None:
    deployed = cost.read_template(prod.template_json)
    assert deployed.billing_mode == "PAY_PER_REQUEST"
    assert deployed.index and deployed.index["IndexName"] == "by_event_time"
    assert {f["memory_mb"] for f in deployed.functions.values()} == {512}
    assert all(f["arm64"] for f in deployed.functions.values())
    assert deployed.log_retention_days == 90  # prod: THREE_MONTHS


def test_item_size_follows_dynamodbs_rules() -> None:
    item = {
        "pk": {"S": "t#datahub#aws#0"},  # 2 + 15
        "n": {"N": "12345"},  # 1 + (3 + 1)
        "b": {"B": b"\x00" * 10},  # 1 + 10
        "ok": {"BOOL": True},  # 2 + 1
        "m": {"M": {"k": {"S": "v"}}},  # 1 + 3 + (1 + 1 + 1)
        "l": {"L": [{"N": "1"}, {"N": "-0.50"}]},  # 1 + 3 + (2 + 1) + (2 + 1): "-0.50" is 2 digits, 2 bytes
    }
    assert cost.item_size(item) == 17 + 5 + 11 + 3 + 7 + 10
    assert cost.item_size(item, {"pk", "n"}) == 22
    assert cost.number_size("1000000") == 5 and cost.number_size("123.45") == 4 and cost.number_size("0.05") == 2
    # exact (bench.bench_pipeline's write units): trailing zeros trimmed, as DynamoDB bills them
    assert cost.number_size("1000000", exact=True) == 2 and cost.number_size("123.450", exact=True) == 4
    assert cost.item_size({"id": {"S": "123456789012"}}, exact=True) == 2 + 12


def test_sizes_do_not_depend_on_the_ids_drawn() -> None:
    # A derived id is a uuid5 of the (fresh) tenant: one whose last group is all digits is still 36 bytes,
    # and a generated numeric id counts at its full 20 digits and a sign, whatever its length and sign.
    assert cost.item_size({"sk": {"S": "7d8d6e44-312c-59af-b967-123412341234"}}) == 2 + 36
    assert cost.item_size({"sk": {"S": "7d8d6e44-312c-59af-b967-3b008b35a8a8"}}) == 2 + 36
    sizes = {cost.item_size({"id": {"S": n}}) for n in ("123456789012", "12345678901234567890", "-4726859646049589392")}
    assert sizes == {2 + 21}


@pytest.mark.parametrize(
    ("projection", "expected"),
    [
        ({"ProjectionType": "ALL"}, {"pk", "sk", "event_time", "payload", "expires_at"}),
        ({"ProjectionType": "KEYS_ONLY"}, {"pk", "sk", "event_time"}),
        ({"ProjectionType": "INCLUDE", "NonKeyAttributes": ["expires_at"]}, {"pk", "sk", "event_time", "expires_at"}),
    ],
)
def test_index_entry_follows_the_projection(projection: dict, expected: set[str]) -> None:
    index = {"IndexName": "by_event_time", "Projection": projection,
             "KeySchema": [{"AttributeName": "pk"}, {"AttributeName": "event_time"}]}  # fmt: skip
    deployed = cost.Deployed("PAY_PER_REQUEST", ("pk", "sk"), index, {}, 0, 60)
    item = {name: {"S": "x"} for name in ("pk", "sk", "event_time", "payload", "expires_at")}
    assert cost.index_attributes(deployed, item) == expected
    del item["event_time"]  # a sparse index holds no entry for it
    assert cost.index_attributes(deployed, item) is None
