"""`python -m cli <group> <command>`: one click group; each subject (keys, ...) adds a subgroup."""

from __future__ import annotations

import click

from cli.events import events
from cli.keys import keys
from cli.rejects import rejects
from cli.telemetry import telemetry


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Ingest API operator commands.

    Local: point at `make serve`'s emulator with AWS_ENDPOINT_URL (or --endpoint-url), printed by the
    server as "AWS endpoint". Deployed: ordinary AWS credentials and --stack IngestApi-<env>.
    """


main.add_command(keys)
main.add_command(rejects)
main.add_command(events)
main.add_command(telemetry)


if __name__ == "__main__":
    main(prog_name="python -m cli")
