"""The `lwjvm` command line: thin click commands over the library modules.

Every command turns an `LwjvmError` into one line on stderr and its exit code; a traceback is shown
only with `--verbose`. Commands return their exit code through `ctx.exit`.
"""

from __future__ import annotations

import sys

import click

from lwjvm import __version__
from lwjvm.errors import EXIT_USAGE, LwjvmError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lwjvm")
@click.option("-v", "--verbose", is_flag=True, help="Show details and tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Run a Java application on its own tiny kernel in a microVM."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


def main() -> None:
    """Entry point: run the CLI and map errors to exit codes."""
    verbose = "-v" in sys.argv[1:2] or "--verbose" in sys.argv[1:2]
    try:
        rc = cli.main(standalone_mode=False)
    except LwjvmError as e:
        if verbose:
            raise
        click.echo(f"lwjvm: error: {e}", err=True)
        sys.exit(e.code)
    except click.exceptions.Abort:
        click.echo("lwjvm: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE)
    sys.exit(rc if isinstance(rc, int) else 0)
