"""`python -m central ...` is the `zamio` command."""

from central.cli import cli

cli(prog_name="zamio")
