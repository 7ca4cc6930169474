"""Every area's tables, imported in one place so alembic and the tests see the whole schema."""

from crm_server import events, idempotency  # noqa: F401
from crm_server.admin import models as admin_models  # noqa: F401
from crm_server.auth import models as auth_models  # noqa: F401
from crm_server.db import Base

metadata = Base.metadata
