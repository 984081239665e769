"""Imports every domain's tables so that `Base.metadata` holds the whole schema (Alembic, tests)."""

from routines.alerts import models as alerts_models  # noqa: F401
from routines.api import models as api_models  # noqa: F401
from routines.appointments import models as appointments_models  # noqa: F401
from routines.calendar import models as calendar_models  # noqa: F401
from routines.companies import models as companies_models  # noqa: F401
from routines.database.base import Base
from routines.exports import models as exports_models  # noqa: F401
from routines.invoices import models as invoices_models  # noqa: F401
from routines.market import models as market_models  # noqa: F401
from routines.notifications import models as notifications_models  # noqa: F401
from routines.reports import models as reports_models  # noqa: F401

metadata = Base.metadata
