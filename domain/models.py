"""Imports every model module so Base.metadata is complete (for Alembic and for tests)."""

from domain.audit.models import AuditChainCheck, AuditEntry, AuditExport  # noqa: F401
from domain.auth.models import AuthSession, OneTimeToken, RefreshToken  # noqa: F401
from domain.client.models import Client, ClientContact  # noqa: F401
from domain.config.models import SystemConfig  # noqa: F401
from domain.firm.models import Firm  # noqa: F401
from domain.idempotency.models import IdempotencyRecord  # noqa: F401
from domain.numbering import NumberCounter  # noqa: F401
from domain.user.models import User  # noqa: F401
from domain.tax_return.models import TaxReturn  # noqa: F401
from domain.consent.models import Consent  # noqa: F401
from domain.document.models import (  # noqa: F401
    Document, DocumentExtraction, DocumentStatusHistory, ExtractedField, IntegrationAccount, PendingDocument,
    SurePrepBinder,
)
from domain.invoice.models import Invoice, InvoiceHistory, InvoicePayment  # noqa: F401
from domain.webhook.models import InboundWebhook  # noqa: F401
from domain.estimated_payment.models import (  # noqa: F401
    EstimatedPayment, EstimatedPaymentReminder, EstimatedPaymentSchedule,
)
from domain.tax_return.models import AiAnalysis, PreparerNote, ReturnReminder  # noqa: F401
from domain.lifecycle.models import LifecycleHistory  # noqa: F401
from domain.outbox.models import OutboxEntry  # noqa: F401
from domain.rate_limit import RateLimitWindow  # noqa: F401
from domain.question.models import Question  # noqa: F401
from domain.message.models import Message  # noqa: F401
from domain.efile.models import EfileAcknowledgement, EfileRejection, EfileTransmission  # noqa: F401
from domain.identity.models import IdentityVerification, VerificationCode  # noqa: F401
from domain.esign.models import SignatureRequest  # noqa: F401
from domain.engagement.models import Engagement  # noqa: F401
from domain.disclosure.models import DisclosureLogEntry  # noqa: F401
from domain.portal.models import PortalAccount, PortalConnection, PortalCursor, PortalItem, PortalSync  # noqa: F401
from domain.event.models import DomainEvent  # noqa: F401
from domain.outbound_webhook.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint  # noqa: F401
