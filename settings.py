"""All configuration, read once from the environment (one pydantic-settings class).

Development defaults let `make run` work on a fresh machine; outside development the secrets must be set,
and start-up refuses the development values (see `Settings.refuse_development_secrets`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    db_pool_size: int = 10
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
    ssn_encryption_key: str = DEV_SSN_ENCRYPTION_KEY
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
    # The proxies in front of the API (addresses or CIDR blocks): only from them is X-Forwarded-For believed, for
    # rate limits and the audit log's caller address (api/client_address.py). Empty: the socket's peer.
    trusted_proxies: list[str] = []

    idempotency_ttl_hours: int = 24
    # The key of the HMAC-SHA256 that fingerprints an idempotent request (domain/idempotency/service.py): without
    # it, the stored fingerprint of a client create cannot be matched against guessed SSNs. While rotating, the
    # old key still matches the records made under it (docs/security.md, rotation).
    idempotency_hash_key: str = DEV_IDEMPOTENCY_HASH_KEY
    idempotency_hash_previous_key: str | None = None

    # Documents (docs/document.md)
    document_max_bytes: int = 50 * 1024 * 1024
    extraction_review_threshold: float = Field(0.9, description="fields below this confidence need review")
    # SurePrep and SmartVault: unset URL means the integration is off. The dev stack points them at sandboxes/.
    sureprep_api_url: str | None = None
    sureprep_api_key: str = "sureprep-development-key"
    sureprep_webhook_secret: str = DEV_SUREPREP_WEBHOOK_SECRET
    smartvault_api_url: str | None = None
    smartvault_api_key: str = "smartvault-development-key"
    smartvault_webhook_secret: str = DEV_SMARTVAULT_WEBHOOK_SECRET

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
                 DEV_SMARTVAULT_WEBHOOK_SECRET)):
            if url and (secret == dev or len(secret.encode()) < WEBHOOK_SECRET_MIN_BYTES):
                problems.append(f"{name} (at least {WEBHOOK_SECRET_MIN_BYTES} bytes)")
        if not self.smtp_starttls and self.smtp_host not in ("127.0.0.1", "localhost", "::1"):
            problems.append("SMTP_STARTTLS (mail to another host goes over STARTTLS)")
        if self.jwt_private_key_path is None:
            problems.append("JWT_PRIVATE_KEY_PATH")
        if not self.database_url:
            problems.append("DATABASE_URL")
        if problems:
            raise ValueError(f"APP_ENV={self.app_env} needs real values for: {', '.join(problems)}")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
