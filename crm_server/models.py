"""Every area's tables, imported in one place so alembic and the tests see the whole schema."""

from crm_server import events, idempotency  # noqa: F401
from crm_server.activities import models as activities_models  # noqa: F401
from crm_server.admin import models as admin_models  # noqa: F401
from crm_server.auth import models as auth_models  # noqa: F401
from crm_server.automation import models as automation_models  # noqa: F401
from crm_server.backups import models as backups_models  # noqa: F401
from crm_server.campaigns import models as campaigns_models  # noqa: F401
from crm_server.clients import models as clients_models  # noqa: F401
from crm_server.commissions import models as commissions_models  # noqa: F401
from crm_server.db import Base
from crm_server.email_pipe import models as email_pipe_models  # noqa: F401
from crm_server.emails import models as emails_models  # noqa: F401
from crm_server.exports import models as exports_models  # noqa: F401
from crm_server.imports import models as imports_models  # noqa: F401
from crm_server.integrations import models as integrations_models  # noqa: F401
from crm_server.invoices import models as invoices_models  # noqa: F401
from crm_server.jobs import models as jobs_models  # noqa: F401
from crm_server.leads import models as leads_models  # noqa: F401
from crm_server.orders import models as orders_models  # noqa: F401
from crm_server.partners import models as partners_models  # noqa: F401
from crm_server.products import models as products_models  # noqa: F401
from crm_server.proposals import models as proposals_models  # noqa: F401
from crm_server.purchasing import models as purchasing_models  # noqa: F401
from crm_server.reports import models as reports_models  # noqa: F401
from crm_server.stock import models as stock_models  # noqa: F401
from crm_server.targets import models as targets_models  # noqa: F401
from crm_server.tickets import models as tickets_models  # noqa: F401
from crm_server.webforms import models as webforms_models  # noqa: F401
from crm_server.whatsapp import models as whatsapp_models  # noqa: F401

metadata = Base.metadata
