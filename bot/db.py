"""Database access: one SQLAlchemy engine per process, migrations applied by alembic."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from integrations.sqltx import make_engine  # noqa: F401  (the runtime's import point)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to date (`shortcode db upgrade`)."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


@cache
def head_revision() -> str:
    """The revision this code's migrations end at: what every database it serves must be at."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def schema_behind(conn: Connection) -> str | None:
    """Why this database does not fit the code (its revision is not the head), or None when it does."""
    at, need = MigrationContext.configure(conn).get_current_revision(), head_revision()
    return None if at == need else f"database schema is not up to date (at {at or 'nothing'}, need {need})"
