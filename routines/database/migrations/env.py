"""Alembic environment: runs the migrations on the URL set by `routines.database.migrate`."""

from alembic import context

from routines.database.engine import get_engine
from routines.database.models import metadata

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    # only `upgrade` may create the embedded SQLite file (routines.database.migrate sets "create")
    engine = get_engine(url, create=config.attributes.get("create", False))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():  # pragma: no cover
    raise SystemExit("offline migrations are not supported: run `routines db upgrade`")
run_migrations()
