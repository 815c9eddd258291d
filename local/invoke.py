"""Invoke one handler with a sample API Gateway event: `make invoke E=datahub_events F=events/...`.

Uses the embedded emulator (or AWS_ENDPOINT_URL), registers the sample key that the files under
events/ carry, and prints the handler's response.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import orjson

from local.environment import apply_local_defaults

apply_local_defaults()

from ingest.settings import get_settings  # noqa: E402
from local import emulator, handlers  # noqa: E402
from local.context import LocalContext  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("endpoint", help="route name: its folder under functions/")
    parser.add_argument("event", type=Path, help="API Gateway proxy event JSON file, e.g. from events/")
    args = parser.parse_args(argv)

    moto = None if os.environ.get("AWS_ENDPOINT_URL") else emulator.start_moto(port=0)
    try:
        settings = get_settings()
        emulator.bootstrap(settings)
        emulator.register_key(settings, emulator.SAMPLE_KEY, emulator.SAMPLE_TENANT, name="sample events")
        event = orjson.loads(args.event.read_bytes())
        response = handlers.load(args.endpoint)(event, LocalContext(args.endpoint, "invoke-" + args.event.stem))
    finally:
        if moto:
            moto.stop()
    print(orjson.dumps(response, option=orjson.OPT_INDENT_2).decode())
    return 0 if response["statusCode"] < 500 else 1


if __name__ == "__main__":
    sys.exit(main())
