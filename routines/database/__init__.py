"""Business database: one shared MetaData/Base, engines and sessions, Alembic migrations.

Each domain declares its tables in its own `models.py` on `Base`; `routines.database.models` imports them all
so that Alembic and the tests see the whole schema.
"""

from routines.database.base import Base, ExactDecimal, UtcDateTime, utcnow
from routines.database.engine import get_engine, session_scope

__all__ = ["Base", "ExactDecimal", "UtcDateTime", "get_engine", "session_scope", "utcnow"]
