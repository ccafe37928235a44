"""All configuration, read once from the environment (one pydantic-settings class).

Development defaults let `make run` work on a fresh machine; outside development the secrets must be set,
and start-up refuses the development values (see `Settings.refuse_development_secrets`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from domain.document.pdf_text import PdfLimits

PROJECT_ROOT = Path(__file__).resolve().parent

# Development-only secrets. Anything left at one of these values outside APP_ENV=development is refused.
DEV_SSN_ENCRYPTION_KEY = "ZGV2LW9ubHktc3NuLWtleS1kby1ub3QtdXNlLXByb2Q="  # base64 of 32 bytes
DEV_STRIPE_WEBHOOK_SECRET = "whsec_development_only"
DEV_SERVICE_TOKEN = "development-only-service-token-not-a-secret"
# The service token's least length: 43 characters is what 32 random bytes take in URL-safe base64
# (`python -c "import secrets; print(secrets.token_urlsafe(32))"`).
SERVICE_TOKEN_MIN_CHARS = 43
WEBHOOK_SECRET_MIN_BYTES = 32
DEV_SUREPREP_WEBHOOK_SECRET = "sureprep_whsec_development_only"
DEV_SMARTVAULT_WEBHOOK_SECRET = "smartvault_whsec_development_only"
DEV_EFILING_WEBHOOK_SECRET = "efiling_whsec_development_only"
DEV_PERSONA_WEBHOOK_SECRET = "persona_wbhsec_development_only"
DEV_GOOGLE_WEBHOOK_SECRET = "google_whsec_development_only"
DEV_TEMPORAL_PAYLOAD_KEYS = "dev1:ZGV2LW9ubHktdGVtcG9yYWwtcGF5bG9hZC1rZXkhISE="  # base64 of 32 bytes
DEV_IDEMPOTENCY_HASH_KEY = "development-only-idempotency-hash-key-not-a-secret"
IDEMPOTENCY_HASH_KEY_MIN_BYTES = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    app_env: str = Field("development", description="development | test | production")
    version: str = "1.0.0"
    data_dir: Path = Field(PROJECT_ROOT / ".data", description="where embedded parts keep their state")

    # Postgres
    database_url: str = Field("", description="postgresql+psycopg://… ; empty means the embedded pgserver")
    db_pool_size: int = 20
    # How long an API request waits for a free database connection before it is answered 503 with Retry-After:
    # under a burst a quick "retry shortly" beats a request hanging for sqlalchemy's default 30 s.
    db_pool_timeout_s: float = Field(10.0, gt=0)
    # The database role every API, worker and CLI connection acts as: it reads and writes rows but only appends
    # to the audit log and owns nothing (migrations/versions/0012_audit_chain.py creates it). Empty: act as the
    # user of DATABASE_URL (a deployment whose login user is itself a member of that role only).
    database_app_role: str = Field("taxpractice_app", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")
    # Who runs `taxpractice migrate`: the owner of the schema. Empty: DATABASE_URL's user (development, tests, and
    # a deployment whose DATABASE_URL is the owner's, the app then confined by DATABASE_APP_ROLE).
    migration_database_url: str = ""

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # Every payload in Temporal is sealed with these (orchestration/payload_codec.py): "id:base64(32 bytes)", comma
    # separated; the first seals, each opens (rotation: put the new key first, drop the old when nothing needs it).
    temporal_payload_keys: str = DEV_TEMPORAL_PAYLOAD_KEYS
    # Only while switching a deployment whose workflows started with clear payloads: open those too.
    temporal_accept_unsealed_payloads: bool = False
    # A Temporal cluster that asks for a client certificate (mTLS, e.g. Temporal Cloud's namespace endpoint) and/or
    # an API key (Temporal Cloud's API-key auth). Unset: plain gRPC, as the embedded dev server speaks.
    temporal_tls_cert_path: Path | None = None
    temporal_tls_key_path: Path | None = None
    temporal_tls_ca_path: Path | None = Field(None, description="the server's CA, when not a public one")
    temporal_tls_server_name: str | None = Field(None, description="the name the server certificate carries")
    temporal_api_key: str | None = None
    workflow_cache_size: int = Field(1000, ge=0, description="workflows a worker process keeps in memory "
                                     "(Worker max_cached_workflows); see docs/tax_return.md")

    # Client-portal connections (docs/portal/): the region the firm's client data must stay in (a connection whose
    # portal accounts live in another region is refused), and the sync schedule a connection gets by default.
    data_region: str = Field("us", pattern=r"^(us|ca|eu)$")
    portal_default_schedule: str = "0 3 * * *"  # nightly, 03:00 UTC

    # S3
    s3_endpoint_url: str | None = Field(None, description="unset means AWS S3")
    s3_bucket: str = "taxpractice-documents"
    s3_region: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None

    # Mail (SMTP). The dev stack points this at the local mail capture.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    # Required outside development unless the server is on this host (a local relay): links and tokens travel by
    # mail (integrations/mail.py).
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    # SMTP connections a process keeps open and sends on at once (integrations/mail.py): a reminder burst reuses
    # them instead of connecting for every mail.
    smtp_connections: int = Field(8, ge=1, le=100)
    mail_from: str = "Tax Practice <no-reply@taxpractice.local>"
    mail_capture_url: str | None = Field(None, description="HTTP read API of the development mail capture")

    # API
    api_base_url: str = "http://127.0.0.1:8000"
    portal_base_url: str = "http://127.0.0.1:8000/portal"
    max_request_body_bytes: int = 1_048_576  # JSON bodies; uploads have their own cap
    cors_origins: list[str] = []

    # Auth
    jwt_private_key_path: Path | None = Field(None, description="RS256 private key (PEM); generated in dev")
    # While rotating the signing key: the previous key's public half (PEM), still accepted and served in the JWKS.
    jwt_previous_public_key_path: Path | None = None
    jwt_issuer: str = "taxpractice"
    jwt_audience: str = "taxpractice-api"
    access_token_minutes: int = 30
    client_access_token_minutes: int = 60
    refresh_token_days: int = 14
    mfa_token_minutes: int = 5
    magic_link_minutes: int = 15
    # The field-encryption key (SSNs, TOTP secrets, stored responses, outbox payloads: domain/crypto.py). While
    # rotating, the previous key still opens what it sealed until `taxpractice keys rotate` has re-sealed it all.
    ssn_encryption_key: str = DEV_SSN_ENCRYPTION_KEY
    ssn_encryption_previous_key: str | None = None
    # Bearer of the internal system identity, accepted in development and tests only (issue 13): the signature
    # and e-file events that send System transitions will have real producers; until then nothing outside
    # development may send them with a static token.
    service_token: str = Field(DEV_SERVICE_TOKEN, min_length=SERVICE_TOKEN_MIN_CHARS,
                               description="bearer for internal system transitions (development and tests only)")

    # Rate limits (spec §3.7): requests per window.
    rate_limit_standard: int = 1000
    rate_limit_standard_window_s: int = 300
    rate_limit_auth: int = 10
    rate_limit_auth_window_s: int = 60
    rate_limit_upload: int = 100
    rate_limit_upload_window_s: int = 300
    rate_limit_webhook: int = 500
    rate_limit_webhook_window_s: int = 60
    # Password attempts on one account from every address together, a sliding window (domain/auth/signin_limit.py).
    rate_limit_signin_per_account: int = Field(10, ge=1)
    rate_limit_signin_per_account_window_s: int = Field(300, ge=1)
    # The proxies in front of the API (addresses or CIDR blocks): only from them is X-Forwarded-For believed, for
    # rate limits and the audit log's caller address (api/client_address.py). Empty: the socket's peer.
    trusted_proxies: list[str] = []

    idempotency_ttl_hours: int = 24
    # The key of the HMAC-SHA256 that fingerprints an idempotent request (domain/idempotency/service.py): without
    # it, the stored fingerprint of a client create cannot be matched against guessed SSNs. While rotating, the
    # old key still matches the records made under it (docs/security.md, rotation).
    idempotency_hash_key: str = DEV_IDEMPOTENCY_HASH_KEY
    idempotency_hash_previous_key: str | None = None

    # How often the audit chains are checked against the last anchor in the S3 store, and anchored again
    # (domain/audit/anchor.py, a Temporal Schedule: orchestration/audit_chain.py).
    audit_chain_check_every_minutes: int = Field(60, ge=1)

    # Documents (docs/document.md)
    document_max_bytes: int = 50 * 1024 * 1024
    # How long the presigned URL of `GET /v1/documents/{id}/download?redirect=true` stays good: long enough to
    # follow a redirect, short enough that a URL copied into a log or a browser history is soon worthless.
    download_url_seconds: int = Field(60, ge=1, le=3600)
    # A PDF is read in a child process with these limits (domain/document/pdf_text.py); past one, that document
    # goes to a person with the reason, and nothing else is held up.
    pdf_read_cpu_seconds: int = Field(10, ge=1)
    pdf_read_memory_mb: int = Field(512, ge=64)
    pdf_read_wall_seconds: float = Field(30.0, gt=0)
    extraction_review_threshold: float = Field(0.9, description="fields below this confidence need review")
    # SurePrep and SmartVault: unset URL means the integration is off. The dev stack points them at sandboxes/.
    sureprep_api_url: str | None = None
    sureprep_api_key: str = "sureprep-development-key"
    sureprep_webhook_secret: str = DEV_SUREPREP_WEBHOOK_SECRET
    # While a provider's webhook secret is rotated, the previous one is still accepted (every HMAC-signed
    # provider: SurePrep, SmartVault, the e-file transmitter, Google).
    sureprep_webhook_previous_secret: str | None = None
    smartvault_api_url: str | None = None
    smartvault_api_key: str = "smartvault-development-key"
    smartvault_webhook_secret: str = DEV_SMARTVAULT_WEBHOOK_SECRET
    smartvault_webhook_previous_secret: str | None = None

    # E-filing (docs/efile.md): the transmitter (the e-file sandbox in development); unset URL means e-filing is
    # off (transmit answers 503). EFIN: the firm's Electronic Filing Identification Number, the first six
    # characters of every Submission ID.
    efiling_api_url: str | None = None
    efiling_api_key: str = "efiling-development-key"
    efiling_webhook_secret: str = DEV_EFILING_WEBHOOK_SECRET
    efiling_webhook_previous_secret: str | None = None
    efin: str = Field("000000", pattern="^[0-9]{6}$")
    # How often the acknowledgement is polled when no webhook brought it: the first wait, doubled up to the cap.
    efile_poll_initial_s: float = 5.0
    efile_poll_max_s: float = 600.0

    # Identity verification (docs/identity.md): Persona for government IDs (unset URL: that method is off), and
    # the SMS gateway for phone codes (unset: the phone method is off). While Persona's webhook secret is
    # rotated, the previous one is still accepted.
    persona_api_url: str | None = None
    persona_api_key: str = "persona-development-key"
    persona_template_id: str = "itmpl_development"
    persona_webhook_secret: str = DEV_PERSONA_WEBHOOK_SECRET
    persona_webhook_previous_secret: str | None = None
    sms_gateway_url: str | None = None
    sms_gateway_api_key: str = "sms-development-key"

    # E-signatures (docs/esign.md): the provider behind POST /v1/webhooks/google (Google Workspace eSignature has no
    # public API: the contract is ours, spoken by sandboxes/esign.py). Unset URL: e-signatures are off.
    google_api_url: str | None = None
    google_api_key: str = "google-esign-development-key"
    google_webhook_secret: str = DEV_GOOGLE_WEBHOOK_SECRET
    google_webhook_previous_secret: str | None = None
    # An engagement letter not signed this many days after it was sent expires (reminders on days 3, 5 and 7).
    engagement_signature_days: int = Field(30, ge=8, le=90)
    # The firm's certificate that seals every signed PDF (PAdES, pyHanko): PEM key and certificate (chain). Unset
    # in development: a self-signed development certificate is generated once under DATA_DIR/seal/.
    seal_key_path: Path | None = None
    seal_certificate_path: Path | None = None
    seal_key_passphrase: str | None = None

    # Return analysis (spec §5.8): "offline" (deterministic, no network) or "bedrock" (AWS Bedrock Converse).
    ai_analyzer: str = Field("offline", pattern="^(offline|bedrock)$")
    bedrock_model_id: str = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    bedrock_region: str = "us-east-1"
    bedrock_endpoint_url: str | None = None

    # Stripe (the payments sandbox in development)
    stripe_api_key: str = "sk_test_development"
    stripe_api_base: str | None = None
    stripe_webhook_secret: str = DEV_STRIPE_WEBHOOK_SECRET
    # While rotating the endpoint secret: the old one, still accepted until every sender uses the new one.
    stripe_webhook_previous_secret: str | None = None
    stripe_webhook_tolerance_s: int = 300
    stripe_currency: str = "usd"

    # Billing (invoices §9, estimated payments §11.6)
    invoice_due_days: int = Field(30, description="due date of a sent invoice that has none")
    # Automatic reminders go out at this UTC time of day (14:00 UTC = 9 am Eastern, 6 am Pacific).
    reminder_time_utc: str = Field("14:00:00", description="HH:MM[:SS], UTC")
    # SMS goes out through an email-to-SMS gateway: <digits>@<domain>. Development: the mail capture.
    sms_email_domain: str = "sms.taxpractice.local"

    # Outbound webhooks (docs/webhooks-outbound.md). Local targets (http, loopback addresses) are allowed in
    # development and tests unless set false, so an engineer can point a webhook at a local receiver; anywhere
    # else only https to public addresses, unless set true.
    outbound_webhook_allow_local: bool | None = None
    # Networks (CIDR) a webhook may reach although they are not public, e.g. a partner over a private link; https is
    # still required outside development and the cloud metadata addresses are never allowed.
    outbound_webhook_allowed_networks: list[str] = []
    # DNS servers (`host` or `host:port`) that resolve webhook targets; empty: the system's resolver. Pointing it
    # at a resolver that knows only public DNS keeps internal names from being targets at all.
    outbound_webhook_nameservers: list[str] = []
    # A PEM file of CAs trusted for webhook targets besides the system's (a partner with a private CA).
    outbound_webhook_ca_file: str | None = None
    # Attempts in flight to one endpoint in one worker process: a slow endpoint holds at most this many of the
    # webhooks worker's activity slots, and its other deliveries wait their turn without one.
    outbound_webhook_max_in_flight: int = Field(8, ge=1)
    outbound_webhook_worker_slots: int = Field(200, ge=1, description="concurrent activities of a webhooks worker")
    # Domain events older than this go, with their deliveries and attempts, unless a delivery of theirs is still
    # pending (a daily Temporal Schedule: orchestration/webhook_retention.py; `taxpractice webhooks prune`).
    outbound_webhook_event_retention_days: int = Field(90, ge=1)

    @property
    def outbound_webhook_local_targets(self) -> bool:
        return self.is_development if self.outbound_webhook_allow_local is None else self.outbound_webhook_allow_local

    # ---- Operations (docs/operations.md) ----
    # Log lines: "json" (one object a line, for a shipper), "text" (readable), "auto": text in development.
    log_format: str = Field("auto", pattern="^(auto|json|text)$")
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    # /metrics of each process on a port of its own, never on the public API; 0 turns it off.
    metrics_host: str = "127.0.0.1"
    api_metrics_port: int = Field(9100, ge=0, le=65535)
    worker_metrics_port: int = Field(9101, ge=0, le=65535)
    business_gauges_interval_s: float = Field(30.0, gt=0)
    # The OTLP/HTTP collector base (e.g. http://otel-collector:4318); unset: traces are made (their ids are in
    # every log line) but not exported.
    otel_exporter_otlp_endpoint: str | None = None
    # The pages behind mailed links (invitation, magic link, payment return) served by the API itself under
    # PORTAL_BASE_URL: on in development; production points PORTAL_BASE_URL at the firm's own front end.
    serve_dev_pages: bool | None = Field(None, description="unset: on in development and tests")
    # ---- end Operations ----

    @field_validator("temporal_payload_keys")
    @classmethod
    def _payload_keys_parse(cls, value: str) -> str:
        from orchestration.payload_codec import parse_keys

        parse_keys(value)  # refused at start-up, not at the first workflow call
        return value

    @property
    def pdf_limits(self) -> PdfLimits:
        """The PDF_READ_* settings as the reader takes them (read per use: a test may change them)."""
        from domain.document.pdf_text import PdfLimits

        return PdfLimits(self.pdf_read_cpu_seconds, self.pdf_read_memory_mb * 1024 * 1024,
                         self.pdf_read_wall_seconds)

    @property
    def is_development(self) -> bool:
        return self.app_env in ("development", "test")

    @property
    def logs_as_json(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and not self.is_development)

    @model_validator(mode="after")
    def refuse_development_secrets(self) -> "Settings":
        if self.is_development:
            return self
        problems = []
        if self.ssn_encryption_key == DEV_SSN_ENCRYPTION_KEY:
            problems.append("SSN_ENCRYPTION_KEY")
        if self.stripe_webhook_secret == DEV_STRIPE_WEBHOOK_SECRET:
            problems.append("STRIPE_WEBHOOK_SECRET")
        if DEV_TEMPORAL_PAYLOAD_KEYS.split(":")[1] in self.temporal_payload_keys:
            problems.append("TEMPORAL_PAYLOAD_KEYS")
        if (self.idempotency_hash_key == DEV_IDEMPOTENCY_HASH_KEY
                or len(self.idempotency_hash_key.encode()) < IDEMPOTENCY_HASH_KEY_MIN_BYTES):
            problems.append(f"IDEMPOTENCY_HASH_KEY (at least {IDEMPOTENCY_HASH_KEY_MIN_BYTES} bytes)")
        # A configured provider's webhook secret: neither the development one nor short (an unconfigured provider
        # takes no webhooks at all: api/v1/webhook.py).
        for name, url, secret, dev in (
                ("SUREPREP_WEBHOOK_SECRET", self.sureprep_api_url, self.sureprep_webhook_secret,
                 DEV_SUREPREP_WEBHOOK_SECRET),
                ("SMARTVAULT_WEBHOOK_SECRET", self.smartvault_api_url, self.smartvault_webhook_secret,
                 DEV_SMARTVAULT_WEBHOOK_SECRET),
                ("EFILING_WEBHOOK_SECRET", self.efiling_api_url, self.efiling_webhook_secret,
                 DEV_EFILING_WEBHOOK_SECRET),
                ("PERSONA_WEBHOOK_SECRET", self.persona_api_url, self.persona_webhook_secret,
                 DEV_PERSONA_WEBHOOK_SECRET),
                ("GOOGLE_WEBHOOK_SECRET", self.google_api_url, self.google_webhook_secret,
                 DEV_GOOGLE_WEBHOOK_SECRET)):
            if url and (secret == dev or len(secret.encode()) < WEBHOOK_SECRET_MIN_BYTES):
                problems.append(f"{name} (at least {WEBHOOK_SECRET_MIN_BYTES} bytes)")
        if not self.smtp_starttls and self.smtp_host not in ("127.0.0.1", "localhost", "::1"):
            problems.append("SMTP_STARTTLS (mail to another host goes over STARTTLS)")
        if self.jwt_private_key_path is None:
            problems.append("JWT_PRIVATE_KEY_PATH")
        if self.google_api_url and (self.seal_key_path is None or self.seal_certificate_path is None):
            problems.append("SEAL_KEY_PATH and SEAL_CERTIFICATE_PATH (the firm's certificate that seals signed PDFs)")
        if not self.database_url:
            problems.append("DATABASE_URL")
        if problems:
            raise ValueError(f"APP_ENV={self.app_env} needs real values for: {', '.join(problems)}")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
