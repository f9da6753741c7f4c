"""Database access: one SQLAlchemy engine per process, migrations applied by alembic."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

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
