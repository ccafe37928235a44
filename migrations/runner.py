"""Run Alembic without an ini file: `make run`, the tests and the CLI all migrate through here."""

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's config is an INI parser: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    # "heads": each capability adds its migrations on a branch of its own from the foundation.
    command.upgrade(alembic_config(database_url), "heads")
