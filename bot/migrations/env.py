"""Alembic environment: runs migrations against the URL `bot.db.alembic_config` sets."""
from alembic import context
from sqlalchemy import create_engine, pool

from bot import models  # noqa: F401  (registers the tables)
from integrations.boss import tables as boss_tables  # noqa: F401
from integrations.golf import tables as golf_tables  # noqa: F401
from integrations.hospital import tables as hospital_tables  # noqa: F401
from integrations.police import tables as police_tables  # noqa: F401
from sqlmodel import SQLModel

config = context.config
url = config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
