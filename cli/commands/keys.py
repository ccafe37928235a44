"""`taxpractice keys rotate`: re-seal every stored ciphertext under the current field-encryption key
(domain/crypto_rotation.py; docs/security.md says when to run it)."""

from __future__ import annotations

import typer

from cli.common import JSON_OPTION, app_engine, emit, emit_rows, field_cipher, run, settings
from domain.db import make_sessionmaker

keys = typer.Typer(help="field-encryption keys", no_args_is_help=True)


@keys.command("rotate")
def rotate(batch_size: int = typer.Option(500, min=1, help="rows re-sealed per transaction"),
           as_json: bool = JSON_OPTION) -> None:
    """Idempotent and resumable: rows already under SSN_ENCRYPTION_KEY are skipped, a stopped run is taken up by
    the next. Rows no held key opens are listed and left as they are."""
    from domain.crypto_rotation import rotate as rotate_all

    async def work():
        engine = app_engine(settings())
        try:
            return await rotate_all(make_sessionmaker(engine), field_cipher(), batch_size)
        finally:
            await engine.dispose()

    reports = {name: {"resealed": r.resealed, "unreadable": r.unreadable} for name, r in run(work()).items()}
    if as_json:
        return emit(reports, True)
    emit_rows("Re-sealed under the current key", ["column", "resealed", "unreadable"],
              [{"column": name, **report} for name, report in reports.items()], False)


def register(root: typer.Typer) -> None:
    root.add_typer(keys, name="keys")
