"""Schemathesis against the real API (issue 14): every operation of /v1/openapi.json, every check (response schema
conformance, status codes, content types, headers, positive data accepted, negative data refused, auth enforced),
signed in as an admin and as a preparer. Zero failures: the document says what the server does.

The API is served over a socket (tests/api/conftest.py `api_url`), and schemathesis runs in a thread, so this
event loop stays free for the server and the Temporal workers the harness runs. The short profile runs in
`make test`; `make fuzz` runs the long one (SCHEMATHESIS_PROFILE=long), `SCHEMATHESIS_SEED=N make fuzz` with
another seed than the fixed one.

What a schema cannot say is supplied, not excluded:
- a webhook's signature is an HMAC over the exact bytes sent: `before_call` signs the body it is about to send
  (a case whose signature header does not even match the documented pattern is left as generated: it is a
  negative case, and must be refused);
- ids in paths are those of real objects of the signed-in user's firm, so reads answer their real bodies;
- a tax year, a due date and a payment date lie in windows about today, a consent's end in the future: rules the
  document says in words.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import pytest_asyncio
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NOT_SET
from schemathesis.engine import Status, events, from_schema

from integrations.webhook_hmac import hmac_header
from tests.api.efile_seed import rejected_transmission

pytestmark = pytest.mark.asyncio(loop_scope="session")

PROFILES = {
    # `make test`: every operation, a few cases each, every phase but the stateful one.
    "short": {"max-examples": 8, "stateful": False},
    # `make fuzz`: many more cases, and the stateful phase (links between operations).
    "long": {"max-examples": 200, "stateful": True},
}
SIGNATURE_HEADERS = {"/v1/webhooks/stripe": ("Stripe-Signature", "stripe_webhook_secret"),
                     "/v1/webhooks/sureprep": ("X-SurePrep-Signature", "sureprep_webhook_secret"),
                     "/v1/webhooks/smartvault": ("X-SmartVault-Signature", "smartvault_webhook_secret"),
                     # e-signature (google)
                     "/v1/webhooks/google": ("X-Google-Signature", "google_webhook_secret"),
                     # e-filing and identity verification
                     "/v1/webhooks/efiling": ("X-Efiling-Signature", "efiling_webhook_secret"),
                     "/v1/webhooks/persona": ("Persona-Signature", "persona_webhook_secret")}
SIGNATURE_FORM = re.compile(r"^t=[0-9]{1,10},v1=[0-9a-f]{64}(,v1=[0-9a-f]{64})*$")
# Persona's header holds one `t=…,v1=…` pair, or two separated by a space during a secret's rotation.
SIGNATURE_FORMS = {
    "/v1/webhooks/persona": re.compile(r"^t=[0-9]{1,10},v1=[0-9a-f]{64}( t=[0-9]{1,10},v1=[0-9a-f]{64})*$")}
# Statuses a schema-valid request may still meet: the object is not the caller's (403/404), the state or a
# business rule forbids it (409/422). A 400 is not among them: it would mean the document allows what the API
# refuses.
ACCEPTED_REFUSALS = ["2xx", 401, 403, 404, 409, 422]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def webhook_providers(tp):
    """SurePrep and SmartVault configured (their sandboxes), as tests/document does: an unconfigured provider's
    webhook answers 404 whatever is sent."""
    from sandboxes import smartvault, sureprep

    settings = tp.settings
    sp = sureprep.start(settings.sureprep_api_key, settings.sureprep_webhook_secret)
    sv = smartvault.start(settings.smartvault_api_key, settings.smartvault_webhook_secret)
    saved = settings.sureprep_api_url, settings.smartvault_api_url
    settings.sureprep_api_url, settings.smartvault_api_url = sp.url, sv.url
    await tp.restart_workers()
    try:
        yield
    finally:
        settings.sureprep_api_url, settings.smartvault_api_url = saved
        await tp.restart_workers()
        sp.stop()
        sv.stop()


@dataclass
class Seeded:
    """Real objects of the firm, for the ids in paths."""

    headers: dict
    parameters: dict


async def seeded(tp, role: str) -> Seeded:
    firm = await tp.new_firm(f"Schemathesis {role}")
    _, admin = await tp.staff_session(firm, "admin")
    user_id, headers = await tp.staff_session(firm, role)
    assigned = {"assigned_preparer_id": str(user_id)} if role == "preparer" else {}
    client = await tp.new_client(admin, **assigned)
    tax_return = (await tp.http.post("/v1/returns", headers=admin, json={
        "client_id": client["id"], "tax_year": date.today().year - 1, "return_type": "1040", **assigned}
    )).json()["data"]
    invoice = (await tp.http.post("/v1/invoices", headers=admin, json={
        "client_id": client["id"], "line_items": [{"description": "1040", "unit_price": "400.00"}]})).json()["data"]
    message = (await tp.http.post(f"/v1/clients/{client['id']}/messages", headers=admin, json={
        "subject": "Hello", "body": "Your documents"})).json()["data"]
    question = (await tp.http.post(f"/v1/returns/{tax_return['id']}/questions", headers=admin, json={
        "question_text": "Did you move?"})).json()["data"]
    schedule = (await tp.http.post(f"/v1/returns/{tax_return['id']}/estimated-payments", headers=admin, json={
        "tax_year": date.today().year, "federal_annual": "4000.00"})).json()["data"]
    contact = (await tp.http.post(f"/v1/clients/{client['id']}/contacts", headers=admin, json={
        "name": "Spouse"})).json()["data"]
    # An outbound webhook endpoint, so that its reads answer a real body (a public literal address).
    endpoint = (await tp.http.post("/v1/admin/webhooks", headers=admin, json={
        "url": "https://93.184.215.14/hook", "events": ["invoice.paid"]})).json()["data"]
    # e-signature: a pending consent and a draft engagement letter
    consent = (await tp.http.post(f"/v1/clients/{client['id']}/consents", headers=admin, json={
        "tax_year": date.today().year - 1, "consent_scope": "SurePrep document processing",
        "third_party_name": "SurePrep", "disclosure_purpose": "Document processing"})).json()["data"]
    engagement = (await tp.http.post("/v1/engagements", headers=admin, json={
        "client_id": client["id"], "tax_year": date.today().year - 1, "engagement_type": "tax_prep",
        "services": ["1040"], "fee_structure": {"type": "fixed", "base_fee": "400.00"}})).json()["data"]
    transmission_id = await rejected_transmission(tp, firm, client["id"], tax_return["id"])
    verification = (await tp.http.post(f"/v1/clients/{client['id']}/identity/verify", headers=admin, json={
        "tier": 1, "methods": ["email"]})).json()["data"]
    return Seeded(headers=headers, parameters={
        "client_id": client["id"], "return_id": tax_return["id"], "invoice_id": invoice["id"],
        "message_id": message["id"], "question_id": question["id"], "payment_id": schedule["payments"][0]["id"],
        "contact_id": contact["id"], "user_id": str(user_id), "endpoint_id": endpoint["id"],
        "consent_id": consent["id"], "engagement_id": engagement["id"],
        "transmission_id": transmission_id, "verification_id": verification["verification_id"],
    })


def _config(profile: dict, url: str, seeds: Seeded) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "base-url": url,
        "headers": seeds.headers,
        # A fixed seed, so a failure found is found again; SCHEMATHESIS_SEED explores others (`make fuzz`).
        "seed": int(os.environ.get("SCHEMATHESIS_SEED", "14")),
        "workers": 1,
        "parameters": {f"path.{name}": value for name, value in seeds.parameters.items()},
        "generation": {"max-examples": profile["max-examples"], "allow-x00": False, "database": "none",
                       "codec": "utf-8", "mode": "all"},
        "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
                   "stateful": {"enabled": profile["stateful"]}},
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_REFUSALS}},
    })


# Dates whose window is relative to today or to the object's tax year (docs/api-conventions.md, "Date ranges").
DATES_IN_A_WINDOW = ("due_date", "payment_date")


def _within_todays_windows(case) -> None:
    """Rules about today, which the document states in words rather than as bounds: a tax year is at most this
    year (a return's) or next (a document's); a due date or a payment date lies in a window around today and the
    tax year (the seeded objects' tax years are this year and last). A schema-valid case is kept within them."""
    if case._meta is None or not case._meta.generation.mode.is_positive:
        return
    for values in (case.body, case.query):
        if not isinstance(values, dict):
            continue
        if isinstance(values.get("tax_year"), int):
            values["tax_year"] = min(values["tax_year"], date.today().year)
        for name in DATES_IN_A_WINDOW:
            if isinstance(values.get(name), str) and values is case.body:
                values[name] = date.today().isoformat()
        # e-signature: a consent's end lies in the future
        if isinstance(values.get("expires_at"), str) and values is case.body:
            values["expires_at"] = f"{date.today() + timedelta(days=365)}T00:00:00Z"


def _before_call(settings):
    def before_call(context, case, kwargs):
        _within_todays_windows(case)
        signed = SIGNATURE_HEADERS.get(case.path)
        if signed is None:
            return
        header, secret_name = signed
        sent = (case.headers or {}).get(header)
        if not isinstance(sent, str) or not SIGNATURE_FORMS.get(case.path, SIGNATURE_FORM).match(sent):
            return  # a negative case: a signature that is not even one
        # The bytes the requests transport sends for a JSON body (requests' own json.dumps).
        payload = (b"" if case.body is NOT_SET else case.body if isinstance(case.body, bytes)  # sent as they are
                   else json.dumps(case.body, allow_nan=False).encode("utf-8"))
        case.headers = {**case.headers, header: hmac_header(getattr(settings, secret_name), payload)}
    return before_call


def _failures(stream, elapsed: dict) -> list[str]:
    """The failures of a run, each with the request and the answer; `elapsed` gathers seconds per phase."""
    found = []
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            key = (event.phase.value, event.recorder.label)
            elapsed[key] = elapsed.get(key, 0.0) + event.elapsed_time
        if isinstance(event, events.ScenarioFinished) and event.status in (Status.FAILURE, Status.ERROR):
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        case = event.recorder.cases[case_id].value
                        interaction = event.recorder.interactions.get(case_id)
                        response = interaction.response if interaction else None
                        answered = (f"{response.status_code} {response.content[:300]!r}" if response is not None
                                    else None)
                        found.append(f"{event.recorder.label}: {check.name}: {failure.title} — "
                                     f"{failure.message[:300]} [answered {answered}; {case.method} {case.path} "
                                     f"body={str(case.body)[:200]} query={case.query}]")
        elif isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: error: {event.info.message[:300]}")
        elif isinstance(event, events.FatalError):
            found.append(f"fatal: {event.exception}")
    return found


@pytest.mark.parametrize("role", ["admin", "preparer"])
async def test_schemathesis_finds_nothing(tp, api_url, webhook_providers, role):
    profile = PROFILES[os.environ.get("SCHEMATHESIS_PROFILE", "short")]
    seeds = await seeded(tp, role)
    document = (await tp.http.get("/v1/openapi.json")).json()

    elapsed: dict = {}

    def run() -> list[str]:
        schema = schemathesis.openapi.from_dict(document, config=_config(profile, api_url, seeds))
        return _failures(from_schema(schema).execute(), elapsed)

    schemathesis.hook("before_call")(_before_call(tp.settings))
    try:
        failures = await asyncio.to_thread(run)
    finally:
        schemathesis.hooks.unregister_all()
    # The figures, for `pytest -s`: where the run's time goes (noisy on a shared machine).
    by_phase: dict = {}
    for (phase, _), seconds in elapsed.items():
        by_phase[phase] = by_phase.get(phase, 0.0) + seconds
    slowest = sorted(elapsed.items(), key=lambda item: -item[1])[:5]
    print(f"\nschemathesis {role}: {len({label for _, label in elapsed})} operations; seconds by phase "
          f"{ {phase: round(s, 1) for phase, s in by_phase.items()} }; slowest "
          f"{[(label, phase, round(s, 1)) for (phase, label), s in slowest]}")
    assert failures == [], "\n".join(failures)
