"""Secrets at start-up and the static service token (issue 13, mediums 3, 6 and 8): the service token is a
credential in development and tests only and long enough to be a secret wherever it is set; a configured
provider's webhook secret, and the idempotency hash key, are neither the development one nor short outside
development."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from api.app import create_app
from api.state import build_state, jwt_key_path
from settings import Settings

from tests.foundation.conftest import assert_problem


async def test_outside_development_the_service_token_is_no_credential(tp):
    production = tp.settings.model_copy(update={"app_env": "production",
                                                "jwt_private_key_path": jwt_key_path(tp.settings)})
    state = build_state(production)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(production, state)),
                                     base_url="http://testserver") as http:
            response = await http.get("/v1/returns", headers={"Authorization": f"Bearer {production.service_token}"})
        assert_problem(response, 401)
    finally:
        await state.engine.dispose()
    # The same token in development is the system identity (tests/tax_return use it for System transitions).
    response = await tp.http.get("/v1/returns", headers={"Authorization": f"Bearer {tp.settings.service_token}"})
    assert response.status_code != 401


def test_a_short_service_token_is_refused_at_start_up():
    with pytest.raises(ValidationError):
        Settings(service_token="short-and-guessable")


def _production(**overrides) -> dict:
    """Every value production needs, none of them the development one."""
    import base64

    key = base64.b64encode(b"k" * 32).decode()
    return {"app_env": "production", "ssn_encryption_key": key, "stripe_webhook_secret": "whsec_" + "s" * 32,
            "temporal_payload_keys": f"p1:{key}", "jwt_private_key_path": "/run/secrets/jwt",
            "database_url": "postgresql+psycopg://app@db/taxpractice", "idempotency_hash_key": "i" * 32,
            **overrides}


def test_outside_development_the_idempotency_hash_key_is_real_and_long():
    Settings(**_production())
    for key in ("i" * 31, Settings().idempotency_hash_key):  # short; the development one
        with pytest.raises(ValidationError, match="IDEMPOTENCY_HASH_KEY"):
            Settings(**_production(idempotency_hash_key=key))


@pytest.mark.parametrize("provider", ["sureprep", "smartvault"])
def test_a_configured_provider_needs_a_real_webhook_secret_outside_development(provider):
    Settings(**_production())  # the provider unset: its webhooks are not taken, no secret needed
    url = {f"{provider}_api_url": "https://api.example.com"}
    Settings(**_production(**url, **{f"{provider}_webhook_secret": "w" * 32}))
    for secret in ("w" * 31, getattr(Settings(), f"{provider}_webhook_secret")):  # short; the development one
        with pytest.raises(ValidationError, match=f"{provider.upper()}_WEBHOOK_SECRET"):
            Settings(**_production(**url, **{f"{provider}_webhook_secret": secret}))


def test_mail_to_another_host_needs_starttls_outside_development():
    Settings(**_production())  # the default: a relay on this host
    Settings(**_production(smtp_host="smtp.example.com", smtp_starttls=True))
    with pytest.raises(ValidationError, match="SMTP_STARTTLS"):
        Settings(**_production(smtp_host="smtp.example.com"))


async def test_a_mailer_set_for_starttls_sends_nothing_in_clear_to_a_server_without_it(tp):
    """The development mail capture offers no STARTTLS: the mail is refused, not sent in clear."""
    import smtplib

    from integrations.mail import Mailer

    address = "starttls-test@client.example.com"
    mailer = Mailer(tp.settings.smtp_host, tp.settings.smtp_port, tp.settings.mail_from, starttls=True)
    with pytest.raises(smtplib.SMTPNotSupportedError):
        await mailer.send(address, "Your sign-in link", "Token: secret\n")
    assert await tp.mail_to(address) == []


def test_temporal_client_tls_and_api_key_come_from_settings(tmp_path):
    """mTLS for a cluster that asks for a client certificate (Temporal Cloud), TLS alone with an API key, plain gRPC
    for the embedded dev server."""
    from orchestration.connect import tls_config

    for name in ("cert", "key", "ca"):
        (tmp_path / f"{name}.pem").write_bytes(f"-----{name}-----".encode())
    assert tls_config(Settings()) is False
    assert tls_config(Settings(temporal_api_key="key-from-the-cloud-console")) is True
    mtls = tls_config(Settings(temporal_tls_cert_path=tmp_path / "cert.pem", temporal_tls_key_path=tmp_path / "key.pem",
                               temporal_tls_ca_path=tmp_path / "ca.pem", temporal_tls_server_name="ns.tmprl.cloud"))
    assert (mtls.client_cert, mtls.client_private_key, mtls.server_root_ca_cert, mtls.domain) == (
        b"-----cert-----", b"-----key-----", b"-----ca-----", "ns.tmprl.cloud")
