"""`taxpractice` — the operator's commands (typer + rich). `taxpractice --help` lists them.

Each command group is one module in cli/commands/ with a `register(root)` function, found at start: adding a
command (`webhooks deliveries`, `keys rotate`) is adding a module. Commands that read or change rows reach
Postgres as the app's role (DATABASE_URL, else the embedded Postgres of `make run`); commands that act as a
signed-in user go through the API with the token `taxpractice login` prints.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import typer

from cli import commands

app = typer.Typer(name="taxpractice", help="Tax Practice operator commands", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


def _register_commands() -> None:
    for module in sorted(m.name for m in pkgutil.iter_modules(commands.__path__)):
        importlib.import_module(f"cli.commands.{module}").register(app)


_register_commands()


def run(argv: list[str]) -> int:
    from domain.errors import DomainError

    try:
        # Not standalone: click then returns a typer.Exit's code instead of leaving the interpreter.
        result = app(args=argv, prog_name="taxpractice", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        return 130
    except typer.TyperException as usage:  # a bad option or value (click's UsageError): its message, exit 2
        usage.show()
        return getattr(usage, "exit_code", 2)
    except DomainError as error:
        print(f"error: {error.detail}" + "".join(f"\n  {e.field}: {e.message}" for e in error.errors),
              file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


def main() -> None:
    status = run(sys.argv[1:])
    # Leave without interpreter finalization: the temporalio runtime can abort at exit (sdk-python issue 300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
