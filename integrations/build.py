"""Every provider, built once from `Settings`: the one place that reads a provider's settings and picks the
client behind each kind (integrations/providers.py). `worker.py` calls it at start-up and injects the result
into the activity classes; a settings change means a worker restart, as for any process.

Which client: always the production one. It reaches the real service or its sandbox by the base URL in the
settings (STRIPE_API_BASE, SUREPREP_API_URL, SMARTVAULT_API_URL, S3_ENDPOINT_URL, SMTP_HOST/PORT), so the
sandbox needs no code path of its own. Only the analyzer has two implementations (AI_ANALYZER).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from domain.crypto import FieldCipher
from domain.tax_return.analysis import OfflineAnalyzer
from integrations.bedrock import BedrockAnalyzer
from integrations.efile import EfileClient
from integrations.persona import PersonaClient
from integrations.sms import SmsGatewayClient
from integrations.esign import ESignClient
from integrations.mail import Mailer
from integrations.notify import Notifier
from integrations.payments import StripePayments
from integrations.portal import PortalConnector
from integrations.providers import (
    Analyzer, ClientPortal, DocumentProcessing, DocumentVault, EfileTransmitter, ESignature, IdentityProvider,
    Notifications, ObjectStorage, Payments, SmsGateway,
)
from integrations.seal import PdfSealer, development_certificate
from integrations.smartvault import SmartVaultClient
from integrations.storage import ObjectStore
from integrations.sureprep import SurePrepClient
from integrations.webhook_sender import WebhookSender
from integrations.webhook_target import NameserverResolver, SystemResolver, TargetPolicy
from settings import Settings


@dataclass(frozen=True)
class Providers:
    storage: ObjectStorage
    mailer: Mailer  # SMTP: the outbox's mails (orchestration/mail.py); notifications mail through it too
    notifications: Notifications
    payments: Payments
    analyzer: Analyzer
    # None: the integration is off (its URL is unset); the activities then skip it.
    document_processing: DocumentProcessing | None
    document_vault: DocumentVault | None
    efile_transmitter: EfileTransmitter | None
    identity: IdentityProvider | None
    sms: SmsGateway | None
    esignature: ESignature | None
    sealer: PdfSealer  # the firm's certificate sealing every signed PDF (integrations/seal.py)
    # Always on: each portal connection names its own portal (no setting to read).
    client_portal: ClientPortal


def build_target_policy(settings: Settings) -> TargetPolicy:
    """Where an outbound webhook may point (integrations/webhook_target.py): checked at registration (the API) and
    at every attempt (the sender)."""
    nameservers = settings.outbound_webhook_nameservers
    return TargetPolicy(
        allow_local=settings.outbound_webhook_local_targets,
        allowed_networks=tuple(ipaddress.ip_network(n, strict=False) for n in settings.outbound_webhook_allowed_networks),
        resolver=NameserverResolver(nameservers) if nameservers else SystemResolver())


def build_webhook_sender(settings: Settings) -> WebhookSender:
    return WebhookSender(build_target_policy(settings), ca_file=settings.outbound_webhook_ca_file)


def build_analyzer(settings: Settings) -> Analyzer:
    if settings.ai_analyzer == "bedrock":
        return BedrockAnalyzer.from_settings(settings.bedrock_model_id, settings.bedrock_region,
                                             settings.bedrock_endpoint_url)
    return OfflineAnalyzer()


def build_mailer(settings: Settings) -> Mailer:
    """The SMTP transport, for the workers' providers and the API's outbox alike."""
    return Mailer(settings.smtp_host, settings.smtp_port, settings.mail_from, starttls=settings.smtp_starttls,
                  username=settings.smtp_username, password=settings.smtp_password,
                  connections=settings.smtp_connections)


def build_field_cipher(settings: Settings) -> FieldCipher:
    """The field-encryption keys (SSNs, TOTP secrets, stored responses, outbox payloads), for the API, the workers
    and the CLI alike. While rotating, the previous key opens what it sealed."""
    return FieldCipher(settings.ssn_encryption_key, settings.ssn_encryption_previous_key)


def build_storage(settings: Settings) -> ObjectStore:
    """The S3 store, for the workers' providers and the API's uploads and downloads alike."""
    return ObjectStore(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region,
                       settings.aws_access_key_id, settings.aws_secret_access_key)


def build_sealer(settings: Settings) -> PdfSealer:
    """The configured certificate, or (development and tests) the one generated once under DATA_DIR/seal/."""
    if settings.seal_key_path and settings.seal_certificate_path:
        return PdfSealer(settings.seal_key_path, settings.seal_certificate_path, settings.seal_key_passphrase)
    return PdfSealer(*development_certificate(settings.data_dir / "seal"))


def build_providers(settings: Settings) -> Providers:
    mailer = build_mailer(settings)
    return Providers(
        storage=build_storage(settings),
        mailer=mailer,
        notifications=Notifier(mailer, settings.sms_email_domain),
        payments=StripePayments.from_settings(settings),
        analyzer=build_analyzer(settings),
        document_processing=(SurePrepClient(settings.sureprep_api_url, settings.sureprep_api_key)
                             if settings.sureprep_api_url else None),
        document_vault=(SmartVaultClient(settings.smartvault_api_url, settings.smartvault_api_key)
                        if settings.smartvault_api_url else None),
        efile_transmitter=(EfileClient(settings.efiling_api_url, settings.efiling_api_key)
                           if settings.efiling_api_url else None),
        identity=(PersonaClient(settings.persona_api_url, settings.persona_api_key, settings.persona_template_id)
                  if settings.persona_api_url else None),
        sms=(SmsGatewayClient(settings.sms_gateway_url, settings.sms_gateway_api_key)
             if settings.sms_gateway_url else None),
        esignature=(ESignClient(settings.google_api_url, settings.google_api_key)
                    if settings.google_api_url else None),
        sealer=build_sealer(settings),
        client_portal=PortalConnector(),
    )
