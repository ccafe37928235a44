"""`taxpractice migrate`: database migrations (as the schema's owner), then Temporal's search attributes."""

from __future__ import annotations

import typer

from cli.common import JSON_OPTION, database_url, emit, run, settings


def migrate(skip_temporal: bool = typer.Option(False, help="database only"), as_json: bool = JSON_OPTION) -> None:
    """Apply database migrations and register the custom search attributes."""
    from migrations.runner import upgrade_to_head

    config = settings()
    # As the schema's owner: the app's own role cannot create or alter tables.
    upgrade_to_head(config.migration_database_url or database_url(config))
    if skip_temporal:
        return emit({"migrated": True, "search_attributes_added": None}, as_json)

    async def register_attributes() -> list[str]:
        from orchestration import search_attributes
        from orchestration.connect import connect

        client = await connect(config)
        return await search_attributes.register(client, config.temporal_namespace)

    emit({"migrated": True, "search_attributes_added": run(register_attributes())}, as_json)


def register(root: typer.Typer) -> None:
    root.command("migrate")(migrate)
