"""The code as deployed: every function of the synthesized template, imported from its own code asset
and the layers as the template orders them, under Python 3.13, against the moto emulator.

* The dependency layer is built by the very recipe ``cdk synth`` uses (``infra.layer_build``, from
  the hash-pinned lock), for this machine's CPU instead of arm64: the twin differs only in the
  compiled wheels, and its closure must equal the synthesized arm64 asset's.
* ``/opt`` is assembled in a temporary directory by extracting each function's layers in the
  template's order (a later layer overwrites an earlier one, as Lambda does), the arm64 dependency
  asset swapped for the twin.
* Each function runs in its own Python 3.13 process, as in Lambda (``deployed_driver.py``, standard
  library only; two at a time, writing no bytecode: what the layers ship is what runs), with ``PYTHONPATH = code asset,
  /opt/python…, SDK stand-in``, the template's environment variables (Refs resolved to the
  emulator's table and bucket), active tracing, and its ``Handler``. (One process looping over
  all functions with purged ``sys.modules`` was tried: re-imported X-Ray/wrapt hooks and threads
  crashed the interpreter at exit — a fresh process is also what Lambda gives each function.)
* Each answer is checked against the same handler run from the source tree on the same sequence of
  sample events (another tenant), ingest routes against the items found in moto, the authorizer
  against the tenant of the key, and the process output for the keys it must never print.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from infra import bytecode
from infra.layer_build import RUNTIME_PROVIDED, build_dependency_layer, compiler, pip_platform_args, platform_for_machine
from infra.layer_lock import canonical, parse_lock, top_level_pins
from infra.paths import DEPS_LAYER_DIR, DEPS_LOCK, REPO_ROOT
from ingest.spec import RouteKind
from tests.conftest import EVENTS, scan_all
from tests.infra.infra_synth import Synthesized

pytestmark = pytest.mark.infra

DRIVER = Path(__file__).with_name("deployed_driver.py")
SAMPLE_KEY = "SAMPLE01.aW5nZXN0LWFwaSBzYW1wbGUga2V5OiBldmVudHMvIG9ubHkh"
# The order a tenant's calls run in: stored events exist before they are read back or deleted.
KIND_ORDER = [RouteKind.INGEST, RouteKind.PING, RouteKind.BATCH_SIZE, RouteKind.READ, RouteKind.QUERY,
              RouteKind.DELETE, RouteKind.STREAMS, RouteKind.OPENAPI, RouteKind.DOCS]  # fmt: skip
# Kinds whose functions change what the next one sees (deletes, datasets): run one at a time, in
# the order the oracle ran them.
IN_ORDER = (RouteKind.DELETE, RouteKind.STREAMS)
# Lambda's ELF machine numbers: the deployed asset must hold arm64 code, the twin this CPU's.
ELF_MACHINE = {"manylinux2014_aarch64": 0xB7, "manylinux2014_x86_64": 0x3E}
_DIST_INFO = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)\.dist-info$")


# --- the interpreter, the twin layer and the runtime's SDK ------------------------------------------


def dist_infos(python_dir: Path) -> dict[str, str]:
    """``{canonical name: version}`` of every distribution installed in a layer's python/."""
    found = {}
    for entry in python_dir.glob("*.dist-info"):
        match = _DIST_INFO.match(entry.name)
        assert match, entry
        found[canonical(match["name"])] = match["version"]
    return found


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def runtime_sdk(platform: str) -> Path:
    """A stand-in for the boto3 the Lambda runtime ships (the layer leaves it out), at the version the
    tests pin; built once under build/. Not shipped, so not part of the lock."""
    pin = next(line.strip() for line in (REPO_ROOT / "requirements-dev.txt").read_text().splitlines()
               if line.startswith("boto3=="))  # fmt: skip
    target = DEPS_LAYER_DIR.with_name(f"runtime-sdk-{platform}-{pin.replace('==', '-')}")
    python = compiler()
    marker = ".complete-compiled" if python is not None else ".complete"
    if not (target / marker).is_file():
        scratch = target.with_name(target.name + f".tmp-{uuid.uuid4().hex[:8]}")
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                   *pip_platform_args(platform), "--target", str(scratch), pin]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, text=True)
        if python is not None:  # the runtime's own boto3 comes compiled
            bytecode.compile_tree(scratch, python)
        (scratch / marker).touch()
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)
    return target


@pytest.fixture(scope="module")
def interpreter() -> Path:
    found = compiler()  # the Python 3.13 that compiled the layers' bytecode (infra.bytecode)
    if found is None:
        pytest.skip("no Python 3.13 (PATH, pyenv or INGEST_LAYER_PYTHON; the machine image has one: pyenv install 3.13)")
    return found


@pytest.fixture(scope="module")
def twin_platform() -> str:
    return platform_for_machine()


@pytest.fixture(scope="module")
def twin_layer(twin_platform: str) -> Path:
    return build_dependency_layer(platform=twin_platform) / "python"


# --- reading the template ------------------------------------------------------------------------


def python_functions(synth: Synthesized) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in synth.template_json["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("Runtime", "").startswith("python")
    }


def asset_dir(synth: Synthesized, resource: dict) -> Path:
    path = synth.outdir / resource["Metadata"]["aws:asset:path"]
    assert path.is_dir(), path
    return path


def layer_assets(synth: Synthesized, function: dict) -> list[Path]:
    """The function's layers' asset directories, in the template's order."""
    resources = synth.template_json["Resources"]
    assets = []
    for layer in function["Properties"].get("Layers", []):
        assert set(layer) == {"Ref"}, f"layer is not a layer of this stack: {layer}"
        assert resources[layer["Ref"]]["Type"] == "AWS::Lambda::LayerVersion"
        assets.append(asset_dir(synth, resources[layer["Ref"]]))
    return assets


def is_dependency_layer(asset: Path) -> bool:
    return any((asset / "python").glob("*.dist-info"))


def assemble_opt(assets: list[Path], twin: Path, destination: Path) -> Path:
    """Extract the layers into ``destination`` as Lambda extracts them into /opt: in order, a later
    layer's file replacing an earlier one's; the arm64 dependency asset replaced by the twin."""
    for asset in assets:
        source = twin.parent if is_dependency_layer(asset) else asset
        shutil.copytree(source, destination, dirs_exist_ok=True)
    return destination


def resolver(synth: Synthesized, settings):
    stack = synth.stack
    storage = stack.storage
    local = {
        stack.get_logical_id(storage.events_table.node.default_child): settings.events_table,
        stack.get_logical_id(storage.keys_table.node.default_child): settings.keys_table,
        stack.get_logical_id(storage.rejects_bucket.node.default_child): settings.rejects_bucket,
        stack.get_logical_id(storage.cursor_secret.node.default_child): settings.cursor_secret_id,
    }

    def resolve(name: str, value) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in local:
            return local[value["Ref"]]
        raise AssertionError(f"environment variable {name} = {value!r}: no local counterpart; teach the test")

    return resolve


# --- what each function is called with ----------------------------------------------------------


def samples(endpoint) -> list[Path]:
    files = sorted((EVENTS / endpoint.name).glob("*.json"))
    chosen = [f for f in files if f.stem.startswith("valid") or "_after_" in f.stem or f.stem == "public"]
    chosen = chosen or [f for f in files if f.stem == "not_found"]
    assert chosen, f"{endpoint.name}: no valid*/…_after_…/public/not_found sample under events/{endpoint.name}/"
    return chosen


def keyed(path: Path, key: str, label: str) -> dict:
    event = json.loads(path.read_text().replace(SAMPLE_KEY, key))
    event["requestContext"]["requestId"] = f"{label}-{uuid.uuid4().hex[:12]}"
    return event


def authorizer_event(endpoint, key: str) -> dict:
    scheme = endpoint.auth
    value = f"{scheme.word} {key}" if scheme.word else key
    path = "/".join("x1" if part.startswith("{") else part for part in endpoint.path.split("/"))
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:us-east-1:000000000000:local/dev/{endpoint.method}{path}",
        "resource": endpoint.path,
        "path": path,
        "httpMethod": endpoint.method,
        "headers": {scheme.header: value},
        "multiValueHeaders": {scheme.header: [value]},
        "queryStringParameters": {},
        "multiValueQueryStringParameters": {},
        "pathParameters": {p[1:-1].rstrip("+"): "x1" for p in endpoint.path.split("/") if p.startswith("{")},
        "stageVariables": {},
        "requestContext": {"requestId": str(uuid.uuid4()), "resourcePath": endpoint.path,
                           "httpMethod": endpoint.method, "stage": "dev", "apiId": "local", "accountId": "000000000000"},
    }  # fmt: skip


def source_answer(name: str, event: dict) -> dict:
    """The route's handler from the source tree (functions/, layers/runtime/python) in this process."""
    from local import handlers
    from local.context import LocalContext

    return handlers.load(name)(event, LocalContext(name, event["requestContext"]["requestId"]))


def header(answer: dict, name: str) -> str | None:
    return next((v for k, v in (answer.get("headers") or {}).items() if k.lower() == name.lower()), None)


# --- the test ------------------------------------------------------------------------------------


class XRayDaemon:
    """A UDP socket where the X-Ray daemon would listen: every datagram the SDK sends, kept (a header
    line, then one segment or subsegment document)."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.address = "127.0.0.1:%d" % self.socket.getsockname()[1]
        self.documents: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                datagram = self.socket.recv(65_536)
            except TimeoutError:
                continue
            _, _, document = datagram.partition(b"\n")
            try:
                self.documents.append(json.loads(document))
            except ValueError:  # kept as text: the assertions then name it
                self.documents.append({"unparsed": document.decode("utf-8", "replace")})

    def close(self) -> list[dict]:
        time.sleep(0.5)  # the last datagrams of the last process
        self._stop.set()
        self._thread.join()
        self.socket.close()
        return self.documents


def lambda_environment(props: dict, resolve, code: Path, opt: Path, sdk: Path, scratch: Path,
                       xray_daemon: str = "127.0.0.1:2000") -> dict[str, str]:
    """What the function's process sees: the template's variables and what Lambda itself sets."""
    python_path = [code, opt / "python" / "lib" / "python3.13" / "site-packages", opt / "python", sdk]
    return {
        "PATH": "/usr/bin:/bin", "HOME": str(scratch), "LANG": "C.UTF-8", "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join(map(str, python_path)),
        # /opt is read-only in Lambda: nothing is compiled to disk, so what the layers ship is what runs.
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "LAMBDA_TASK_ROOT": str(code), "_HANDLER": props["Handler"],
        "AWS_LAMBDA_FUNCTION_NAME": code.name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
        # Active tracing: the X-Ray SDK runs and sends its segments to a daemon address, as deployed.
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "AWS_XRAY_DAEMON_ADDRESS": xray_daemon,
        **{name: resolve(name, value) for name, value in props.get("Environment", {}).get("Variables", {}).items()},
    }  # fmt: skip


def run_in_python313(interpreter: Path, planned: dict, scratch: Path) -> tuple[dict, str]:
    plan_file = scratch / f"{planned['id']}.plan.json"
    results_file = scratch / f"{planned['id']}.results.json"
    plan_file.write_text(json.dumps(planned))
    run = subprocess.run(
        [str(interpreter), "-P", "-S", str(DRIVER), str(plan_file), str(results_file)],
        env=planned["env"], cwd=scratch, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert run.returncode == 0, f"{planned['id']}: exit {run.returncode}\n{run.stderr[-4000:]}"
    return json.loads(results_file.read_text()), run.stdout + run.stderr


def test_every_synthesized_function_runs_from_its_assets_under_python_313(
    dev: Synthesized, interpreter: Path, twin_platform: str, twin_layer: Path, settings, new_key, tmp_path: Path
) -> None:
    import boto3

    from ingest import catalog, layout

    functions = python_functions(dev)
    by_logical_id = {dev.stack.get_logical_id(f.function.node.default_child): name
                     for name, f in dev.stack.api.functions.items()}  # fmt: skip
    authorizer_id = dev.stack.get_logical_id(dev.stack.api.authorizers.function.node.default_child)
    unknown = set(functions) - set(by_logical_id) - {authorizer_id}
    assert not unknown, f"Python functions the test does not know how to call: {sorted(unknown)}"
    assert set(by_logical_id) <= set(functions)

    key, tenant = new_key()  # the deployed run
    keepers: dict[str, tuple[str, str]] = {}  # per ingest route, a tenant nothing else writes or deletes
    oracle_key, _ = new_key()  # the same sequence, in process, from the source tree

    def stage(name: str) -> int:
        kind = catalog.get(name).kind if name != "authorizer" else None
        return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)

    resolve = resolver(dev, settings)
    sdk = runtime_sdk(twin_platform)
    daemon = XRayDaemon()
    opts: dict[tuple[Path, ...], Path] = {}
    stages: dict[int, list[dict]] = defaultdict(list)
    expected: dict[tuple[str, str], int] = {}
    for logical_id, name in sorted([*by_logical_id.items(), (authorizer_id, "authorizer")], key=lambda i: stage(i[1])):
        resource = functions[logical_id]
        props = resource["Properties"]
        assets = tuple(layer_assets(dev, resource))
        assert len(assets) == 2 and is_dependency_layer(assets[0]) and not is_dependency_layer(assets[1]), assets
        if assets not in opts:
            opts[assets] = assemble_opt(list(assets), twin_layer, tmp_path / f"opt{len(opts)}")
        calls = []
        if name == "authorizer":
            for family_endpoint in {e.family: e for e in catalog.ENDPOINTS if not e.public}.values():
                calls.append({"name": f"allow-{family_endpoint.family}", "event": authorizer_event(family_endpoint, key)})
                bogus = "NOTAKEY1." + "A" * 48
                calls.append({"name": f"deny-{family_endpoint.family}", "event": authorizer_event(family_endpoint, bogus)})
        else:
            endpoint = catalog.get(name)
            for sample in samples(endpoint):
                calls.append({"name": sample.stem, "event": keyed(sample, key, name)})
                expected[(name, sample.stem)] = source_answer(name, keyed(sample, oracle_key, name))["statusCode"]
            if endpoint.kind is RouteKind.INGEST:
                keepers[name] = new_key()
                calls.append({"name": "keep", "event": keyed(samples(endpoint)[0], keepers[name][0], name)})
        code = asset_dir(dev, resource)
        stages[stage(name)].append({
            "id": logical_id, "name": name, "handler": props["Handler"], "code": str(code), "opt": str(opts[assets]),
            "memory": str(props.get("MemorySize", 128)), "timeout": props.get("Timeout", 3), "calls": calls,
            "env": lambda_environment(props, resolve, code, opts[assets], sdk, tmp_path, daemon.address),
        })  # fmt: skip

    # Stage by stage (stored events exist before they are read or deleted); within a stage two
    # processes at a time, except deletes, which run in order (the oracle ran them in order). The
    # very first process runs alone, so the pair after it starts from a warm file cache.
    results: dict[str, dict] = {}
    output = ""
    batches = [[stages[min(stages)].pop(0)]]
    for number in sorted(stages):
        if number in [KIND_ORDER.index(kind) for kind in IN_ORDER]:
            batches.extend([planned] for planned in stages[number])
        else:
            batches.append(stages[number])
    with ThreadPoolExecutor(max_workers=2) as pool:
        for batch in batches:
            for planned, (outcome, printed) in zip(batch, pool.map(lambda p: run_in_python313(interpreter, p, tmp_path), batch)):
                results[planned["id"]] = {**outcome, "planned": planned}
                output += printed

    assert set(results) == set(by_logical_id) | {authorizer_id}
    for logical_id, outcome in results.items():
        name, opt, origins = outcome["planned"]["name"], outcome["planned"]["opt"], outcome["origins"]
        assert outcome["python"].startswith("3.13."), outcome["python"]
        assert "import_error" not in outcome, f"{name}: {outcome['import_error']}"
        # Imported from where Lambda finds them, not from the repository or the virtualenv.
        assert origins["handler"] == str(Path(outcome["planned"]["code"]) / "handler.py"), (name, origins)
        for module in ("ingest", "pydantic", "pydantic_core._pydantic_core", "orjson", "aws_lambda_powertools"):
            assert origins[module] and origins[module].startswith(f"{opt}/python/"), (name, module, origins)
        assert origins["boto3"].startswith(str(sdk)) and origins["botocore"].startswith(str(sdk)), (name, origins)
        # Every module from the layers came with its 3.13 bytecode (infra.bytecode): none compiled at cold start.
        assert outcome["uncompiled"] == [], (name, outcome["uncompiled"][:10])
        source = [REPO_ROOT / "layers", REPO_ROOT / "functions", REPO_ROOT / ".venv", REPO_ROOT / "tests"]
        leaked = [e for e in outcome["sys_path"] if Path(e) == REPO_ROOT or any(Path(e).is_relative_to(s) for s in source)]
        assert not leaked, (name, leaked)
        for call in outcome["calls"]:
            assert "error" not in call, f"{name} {call['name']}: {call['error']}"
        assert len(outcome["calls"]) == len(outcome["planned"]["calls"]), name

    # Endpoint functions: the same answers as the source tree's handlers, with X-Request-Id.
    for logical_id, name in by_logical_id.items():
        endpoint = catalog.get(name)
        for call in results[logical_id]["calls"]:
            answer = call["answer"]
            assert header(answer, "X-Request-Id"), (name, call["name"], answer.get("headers"))
            if call["name"] == "keep":
                assert answer["statusCode"] == endpoint.success_status, (name, answer)
                continue
            assert answer["statusCode"] == expected[(name, call["name"])], (name, call["name"], answer)
            if call["name"].startswith("valid") and endpoint.kind is RouteKind.INGEST:
                assert answer["statusCode"] == endpoint.success_status, (name, call["name"], answer)

    # Ingest routes stored for real: each keeper tenant's event items, read from moto directly.
    ingest_routes = {name for name in by_logical_id.values() if catalog.get(name).kind is RouteKind.INGEST}
    assert ingest_routes and set(keepers) == ingest_routes
    dynamodb = boto3.client("dynamodb")
    for name, (_, keeper) in keepers.items():
        if catalog.get(name).keyless:  # stored under no tenant (ingest.layout.KEYLESS_TENANT)
            keeper = layout.KEYLESS_TENANT
        items = scan_all(dynamodb, TableName=settings.events_table, FilterExpression="tenant = :t AND endpoint = :e",
                         ExpressionAttributeValues={":t": {"S": keeper}, ":e": {"S": name}})  # fmt: skip
        assert items, f"{name}: answered {catalog.get(name).success_status} but stored nothing for its tenant"

    # The authorizer: the key's tenant on an Allow for every family, a Deny for what is not a key.
    for call in results[authorizer_id]["calls"]:
        answer = call["answer"]
        effect = answer["policyDocument"]["Statement"][0]["Effect"]
        if call["name"].startswith("allow-"):
            assert effect == "Allow" and answer["context"]["tenant"] == tenant, (call["name"], answer)
        else:
            assert effect == "Deny" and answer["principalId"] == "anonymous", (call["name"], answer)

    # Keys never appear in what the functions print (their logs, EMF metrics, X-Ray errors).
    assert output, "the functions printed nothing: no request log, no EMF metrics"
    for secret in (key, *(k for k, _ in keepers.values())):
        assert secret not in output and secret.split(".", 1)[1] not in output

    # Tracing works as deployed: every endpoint function's handler reached the daemon as a subsegment,
    # none too big to send, none carrying an answer (tenants' events) or a key.
    documents = daemon.close()
    assert "Message too long" not in output
    traced = {document.get("name") for document in documents}
    assert "## lambda_handler" in traced, sorted(traced)[:20]
    handler_segments = [document for document in documents if document.get("name") == "## lambda_handler"]
    assert len(handler_segments) >= len(by_logical_id)
    sent = json.dumps(documents)
    assert '"lambda_handler response"' not in sent and "lambda_handler response" not in sent
    for secret in (key, *(k for k, _ in keepers.values())):
        assert secret not in sent and secret.split(".", 1)[1] not in sent


def test_deployed_dependency_asset_is_the_locked_closure_for_arm64(dev: Synthesized, twin_platform: str, twin_layer: Path) -> None:
    """The asset ``cdk synth`` ships holds exactly the lock's distributions (less what the runtime
    provides) at the lock's versions, compiled for arm64; the twin the test imports is the same
    closure, compiled for this CPU."""
    lock = {name: pin.version for name, pin in parse_lock(DEPS_LOCK).items()}
    deployed_layers = {path for fn in python_functions(dev).values() for path in layer_assets(dev, fn)}
    deployed = [path / "python" for path in deployed_layers if is_dependency_layer(path)]
    assert len(deployed) == 1
    shipped, twin = dist_infos(deployed[0]), dist_infos(twin_layer)
    assert shipped == twin
    for name, version in shipped.items():
        assert lock.get(name) == version, f"{name}=={version} is in the layer but not pinned so in {DEPS_LOCK.name}"
    unshipped = set(lock) - set(shipped)
    assert unshipped <= {canonical(name) for name in RUNTIME_PROVIDED}, unshipped
    for layer, platform in ((deployed[0], "manylinux2014_aarch64"), (twin_layer, twin_platform)):
        compiled = sorted(layer.glob("pydantic_core/*.so")) + sorted(layer.glob("orjson/*.so"))
        assert compiled, layer
        assert {elf_machine(path) for path in compiled} == {ELF_MACHINE[platform]}, (layer, platform)


def test_lock_agrees_with_the_top_level_pins() -> None:
    """requirements.txt (what the runtime imports) and the lock (what is installed) name the same
    versions, and every pin of the lock carries a hash."""
    lock, top = parse_lock(DEPS_LOCK), top_level_pins()
    for name, pin in top.items():
        assert name in lock, f"{pin.name} is in requirements.txt but not in {DEPS_LOCK.name}: run `make lock`"
        assert (lock[name].version, lock[name].extras) == (pin.version, pin.extras), (name, lock[name], pin)
    assert all(pin.hashes for pin in lock.values())
