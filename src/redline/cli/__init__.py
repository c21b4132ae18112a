"""Command line: thin commands over the library (`classify`, `eval`, `train`, ...).

Owns argument parsing, exit codes and terminal output. Must not hold decision logic: every
command calls the same engine the gateway uses.
"""

from __future__ import annotations

import sys

import click

from redline.cli.classify import classify
from redline.cli.evaluate import eval_command
from redline.cli.gate import COMMANDS as GATE_COMMANDS
from redline.cli.ledger import ledger
from redline.cli.lists import lists
from redline.cli.replay import replay
from redline.cli.screen import screen
from redline.cli.serve import serve
from redline.cli.tenants import tenants
from redline.cli.train import train
from redline.cli.users import users


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="redline")
def cli() -> None:
    """redline — a policy enforcement point for LLMs in defense and intelligence work.

    Every lawful national-security use passes; two red lines hold: no mass domestic
    surveillance, no fully autonomous weapons.
    """


cli.add_command(classify)
cli.add_command(eval_command)
cli.add_command(train)
cli.add_command(ledger)
for _command in GATE_COMMANDS:
    cli.add_command(_command)  # keygen, operators, gate, authorize, mcp-proxy
cli.add_command(lists)
cli.add_command(screen)
cli.add_command(replay)
cli.add_command(serve)
cli.add_command(tenants)
cli.add_command(users)


def main() -> None:
    sys.exit(cli.main(standalone_mode=True))
