"""`taxpractice demo seed`: a living practice for a newcomer — a demo firm with staff of every role, clients,
returns in every status of the lifecycle (three of them stuck), documents, questions, invoices paid, due today
and overdue, estimated-payment schedules, engagement letters (drafts, out for signature, one signed) and Form 7216
consents (pending, sent, one signed for SurePrep, so the client's disclosure log shows the gate at work), and an
identity verification started.

Everything a person would do goes through the API and the workflows, as a person would (so Temporal UI shows a
workflow per return, invoice and schedule); the only shortcuts are the ones a newcomer could not take through
the API: the firm and its staff are written as `taxpractice firms create` / `users create` write them, signed in
without their TOTP (a session opened as the sign-in does), and the stuck returns are written as having entered
their status days ago before their workflow starts (nothing else makes a return stuck without waiting days); the
overdue invoices likewise: drafted through the API, their due date moved into the past in the row, then sent
through their workflow as the API sends (the API refuses a past due date), so the workflow's own timeline makes
them overdue at once and mails the reminders already due. A signed letter and consent are signed as a client
signs: the link from the signing mail in the mail capture, the sandbox's HTML form posted.

A step whose provider is not configured is skipped and said so (`SeedReport.skipped`): sending for signature
needs GOOGLE_API_URL, signing also MAIL_CAPTURE_URL.

Idempotent: the firm has a fixed id, staff and clients fixed emails, each client one demo return; a second run
finds them and adds nothing (it still prints the credentials).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import httpx
from sqlalchemy import select

from domain.auth import totp
from domain.auth.service import Authenticator
from domain.client.models import Client
from domain.config.service import load_config
from domain.consent.models import Consent
from domain.crypto import FieldCipher
from domain.firm.models import Firm
from domain.identity.models import IdentityVerification
from domain.invoice.models import Invoice
from domain.tax_return.models import TaxReturn
from domain.user.models import User
from domain.user.service import create_user

DEMO_FIRM_ID = uuid.UUID("00000000-0000-4000-8000-00000000de70")
DEMO_FIRM_NAME = "Demo Tax & Accounting"
DEMO_DOMAIN = "demo.taxpractice.example"
DEMO_PASSWORD = "demo password for make run"
TAX_YEAR = 2025
STAFF = [("admin", "Ada Admin"), ("ea_cpa", "Eve Enrolled-Agent"), ("reviewer", "Rita Reviewer"),
         ("preparer", "Pat Preparer"), ("preparer", "Paul Preparer")]

# Each demo return's path from intake: (status it ends in, the transitions that take it there, as (actor, action)).
# "system" actions are the ones the signature, e-file and closing capabilities send (the service token, which
# development accepts). ai_analysis is left out: the workflow leaves it within a second by itself.
P, R, S = "preparer", "reviewer", "system"
TO_IN_PREP = [(P, "mark_ready_for_prep"), (P, "start_prep")]
TO_REVIEW = TO_IN_PREP + [(P, "submit_for_review"), (R, "start_review")]
TO_APPROVED = TO_REVIEW + [(R, "approve")]
TO_FILED = TO_APPROVED + [(S, "send_for_signature"), (S, "signature_received"), (S, "transmit")]
PATHS: list[tuple[str, list[tuple[str, str]]]] = [
    ("intake", []),
    ("documents_pending", [(P, "request_documents")]),
    ("ready_for_prep", [(P, "mark_ready_for_prep")]),
    ("in_prep", TO_IN_PREP),
    ("pending_client_response", TO_IN_PREP + [(P, "ask_question"), (P, "request_client_info")]),
    ("ready_for_review", TO_IN_PREP + [(P, "submit_for_review")]),
    ("in_review", TO_REVIEW),
    ("revisions_needed", TO_REVIEW + [(R, "request_revisions")]),
    ("approved", TO_APPROVED),
    ("pending_signature", TO_APPROVED + [(S, "send_for_signature")]),
    ("ready_to_file", TO_APPROVED + [(S, "send_for_signature"), (S, "signature_received")]),
    ("filed", TO_FILED),
    ("accepted", TO_FILED + [(S, "mark_accepted")]),
    ("rejected", TO_FILED + [(S, "mark_rejected")]),
    ("complete", TO_FILED + [(S, "mark_accepted"), (S, "complete")]),
    ("needs_review", TO_IN_PREP + [(S, "escalate")]),
]
# Stuck: in their status for longer than its time budget (domain/tax_return/state_machine.TIME_BUDGET), less than
# twice it (twice escalates to needs_review).
STUCK = [("documents_pending", timedelta(days=25)), ("in_prep", timedelta(days=13)),
         ("ready_for_review", timedelta(days=4))]
# Invoices of the first clients: (client index, what becomes of it); overdue ones with their days past due (20: the
# 7- and 14-day reminders are due too, and mailed).
INVOICES = [(0, "paid"), (1, "due_today"), (2, "paid"), (3, ("overdue", 3)), (4, "paid"), (5, ("overdue", 20))]
# Engagement letters and consents (client index, how far it goes). The signed consent names SurePrep for the
# client's in_prep return (index 3), so its next document is disclosed with consent; its earlier one was refused.
ENGAGEMENTS = [(6, "draft"), (7, "draft"), (8, "sent"), (9, "sent"), (3, "signed")]
CONSENTS = [(10, "pending"), (11, "sent"), (3, "signed")]
# A tier-1 identity verification started (its email code mailed; no provider needed at that tier).
IDENTITY_CLIENT = 12
LETTER = {"tax_year": TAX_YEAR, "engagement_type": "tax_prep", "services": ["1040", "state return"],
          "fee_structure": {"type": "fixed_plus_forms", "base_fee": "450.00", "additional_forms": "50.00"}}
SUREPREP_CONSENT = {"tax_year": TAX_YEAR, "consent_scope": "SurePrep document processing",
                    "third_party_name": "SurePrep LLC",
                    "disclosure_purpose": "Document OCR and data extraction for tax preparation"}
SIGNING_LINK = re.compile(r"(https?://\S+/sign/[A-Za-z0-9_\-]+)")
CLIENT_NAMES = ["Avery Adams", "Blake Brown", "Casey Clark", "Devon Diaz", "Emery Evans", "Finley Foster",
                "Gray Garcia", "Harper Hughes", "Indigo Ito", "Jordan James", "Kai Kim", "Logan Lee", "Morgan Moore",
                "Noel Nguyen", "Oakley Ortiz", "Parker Patel", "Quinn Quist", "Reese Rivera", "Sage Singh"]


def demo_email(key: str) -> str:
    """`preparer2` is the second preparer; every other key is a role."""
    return f"{key.replace('_', '-')}@{DEMO_DOMAIN}"


@dataclass
class SeedReport:
    firm_id: uuid.UUID
    created: dict[str, int] = field(default_factory=dict)
    staff: list[dict] = field(default_factory=list)
    returns_by_status: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def count(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n


class DemoSeeder:
    def __init__(self, api: httpx.AsyncClient, sessionmaker, authenticator: Authenticator, cipher: FieldCipher,
                 temporal, settings, wait_s: float = 30.0):
        self.api, self.sessionmaker, self.authenticator, self.cipher = api, sessionmaker, authenticator, cipher
        self.temporal, self.settings, self.service_token, self.wait_s = temporal, settings, settings.service_token, wait_s
        self.headers: dict[str, dict] = {}
        self.users: dict[str, User] = {}
        self.report = SeedReport(DEMO_FIRM_ID)

    async def seed(self) -> SeedReport:
        await self._firm_and_staff()
        clients = await self._clients()
        paths = PATHS + [(status, None) for status, _ in STUCK]
        for (client, (status, path)) in zip(clients, paths):
            if await self._has_demo_return(client):
                continue
            if path is None:
                await self._stuck_return(client, status, dict(STUCK)[status])
            else:
                await self._walked_return(client, status, path)
        for index, fate in INVOICES:
            await self._invoice(clients[index], fate)
        for client in clients[3:6]:
            await self._schedule(client)
        if not self.settings.google_api_url:
            self.report.skipped.append("sending engagement letters and consents for signature: GOOGLE_API_URL unset")
        elif not self.settings.mail_capture_url:
            self.report.skipped.append("signing a letter and a consent as the client: MAIL_CAPTURE_URL unset")
        for index, fate in ENGAGEMENTS:
            await self._engagement(clients[index], fate)
        for index, fate in CONSENTS:
            await self._consent(clients[index], fate)
        await self._identity_verification(clients[IDENTITY_CLIENT])
        await self._tally()
        return self.report

    # ---- firm, staff, clients ----------------------------------------------------------------------------------

    async def _firm_and_staff(self) -> None:
        async with self.sessionmaker.begin() as session:
            if await session.get(Firm, DEMO_FIRM_ID) is None:
                session.add(Firm(id=DEMO_FIRM_ID, name=DEMO_FIRM_NAME))
                await session.flush()
                self.report.count("firm")
            config = await load_config(session, DEMO_FIRM_ID)
            for index, (role, name) in enumerate(STAFF):
                key = role if index < 4 else f"{role}2"
                email = demo_email(key)
                user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
                if user is None:
                    user, _ = await create_user(session, DEMO_FIRM_ID, email, name, role, self.cipher,
                                                password=DEMO_PASSWORD)
                    self.report.count("staff")
                secret, _ = totp.open_secret(self.cipher, user.id, user.totp_secret_encrypted)
                self.report.staff.append({"email": email, "role": role, "password": DEMO_PASSWORD,
                                          "totp_secret": secret})
                self.users[key] = user
                # A session as the sign-in opens one: the demo acts as each person without typing their TOTP.
                pair = await self.authenticator.open_session(session, user, config)
                self.headers[key] = {"Authorization": f"Bearer {pair.access_token}"}
        self.headers["system"] = {"Authorization": f"Bearer {self.service_token}"}

    async def _clients(self) -> list[dict]:
        count = len(PATHS) + len(STUCK)
        clients = []
        for index, name in enumerate(CLIENT_NAMES[:count]):
            email = f"{name.split()[0].lower()}@{DEMO_DOMAIN}"
            async with self.sessionmaker() as session:
                found = (await session.execute(select(Client).where(
                    Client.firm_id == DEMO_FIRM_ID, Client.email == email))).scalar_one_or_none()
            if found is not None:
                clients.append({"id": str(found.id), "email": email, "name": name})
                continue
            preparer = self.users["preparer" if index % 2 == 0 else "preparer2"]
            body = {"client_type": "individual", "name": name, "email": email, "phone": f"+1 555 010 {1000 + index}",
                    "address": {"street1": f"{100 + index} Main Street", "city": "Springfield", "state": "IL",
                                "zip": "62701"},
                    "assigned_preparer_id": str(preparer.id)}
            created = await self._call("POST", "/v1/clients", "admin", body)
            clients.append({"id": created["id"], "email": email, "name": name})
            self.report.count("clients")
        return clients

    async def _has_demo_return(self, client: dict) -> bool:
        async with self.sessionmaker() as session:
            return (await session.execute(select(TaxReturn.id).where(
                TaxReturn.client_id == uuid.UUID(client["id"]), TaxReturn.tax_year == TAX_YEAR))).first() is not None

    # ---- returns -----------------------------------------------------------------------------------------------

    async def _walked_return(self, client: dict, status: str, path: list[tuple[str, str]]) -> None:
        preparer_key = await self._preparer_key_of(client)
        created = await self._call("POST", "/v1/returns", "admin", {
            "client_id": client["id"], "tax_year": TAX_YEAR, "return_type": "1040", "filing_status": "single",
            "assigned_preparer_id": str(self.users[preparer_key].id)})
        return_id = created["id"]
        self.report.count("returns")
        for actor, action in path:
            actor = preparer_key if actor == P else actor
            if action == "ask_question":
                await self._call("POST", f"/v1/returns/{return_id}/questions", actor, {
                    "question_text": "Did you receive a 1099-INT from your savings account this year?",
                    "category": "income", "priority": "high"})
                self.report.count("questions")
                continue
            await self._call("POST", f"/v1/returns/{return_id}/workflow/transition", actor,
                             {"action": action, "notes": "demo"})
            if action == "start_prep":  # the workflow runs the analysis, then moves on by itself
                await self._wait_until_not(return_id, "ai_analysis")
        if status in ("in_prep", "ready_for_review", "in_review", "approved"):
            await self._document(client, return_id)

    async def _stuck_return(self, client: dict, status: str, since: timedelta) -> None:
        from orchestration import tax_return as tax_return_workflow

        preparer_key = await self._preparer_key_of(client)
        entered = datetime.now(timezone.utc) - since
        async with self.sessionmaker.begin() as session:
            row = TaxReturn(id=uuid.uuid4(), firm_id=DEMO_FIRM_ID, client_id=uuid.UUID(client["id"]),
                            tax_year=TAX_YEAR, return_type="1040", filing_status="single", status=status,
                            status_entered_at=entered, assigned_preparer_id=self.users[preparer_key].id,
                            extension_filed=False, due_date=date(TAX_YEAR + 1, 4, 15), priority="normal",
                            federal_status="not_started", state_filings=[])
            session.add(row)
        await tax_return_workflow.start(self.temporal, row)
        self.report.count("returns")
        self.report.count("stuck_returns")

    async def _preparer_key_of(self, client: dict) -> str:
        async with self.sessionmaker() as session:
            preparer_id = (await session.get(Client, uuid.UUID(client["id"]))).assigned_preparer_id
        return "preparer" if preparer_id == self.users["preparer"].id else "preparer2"

    async def _wait_until_not(self, return_id: str, status: str) -> None:
        deadline = time.monotonic() + self.wait_s
        while (await self._call("GET", f"/v1/returns/{return_id}", "admin"))["status"] == status:
            if time.monotonic() > deadline:
                raise RuntimeError(f"return {return_id} still {status} after {self.wait_s:.0f} s: is a worker running?")
            await asyncio.sleep(0.2)

    async def _document(self, client: dict, return_id: str) -> None:
        organizer = b"category,description,amount\nwages,Employer W-2 box 1,85000.00\ninterest,Savings 1099-INT,312.40\n"
        response = await self.api.post("/v1/documents", headers=self.headers["admin"], data={
            "client_id": client["id"], "tax_year": str(TAX_YEAR), "return_id": return_id},
            files={"file": ("organizer.csv", organizer, "text/csv")})
        _checked(response)
        self.report.count("documents")

    # ---- billing -----------------------------------------------------------------------------------------------

    async def _invoice(self, client: dict, fate: str | tuple[str, int]) -> None:
        async with self.sessionmaker() as session:
            if (await session.execute(select(Invoice.id).where(
                    Invoice.client_id == uuid.UUID(client["id"])))).first() is not None:
                return
        # Unpaid: due today, the earliest the API accepts (a past due date is refused at create and send); the
        # invoice workflow's timer makes it overdue tomorrow and starts its reminders.
        due = date.today() + timedelta(days=30) if fate == "paid" else date.today()
        invoice = await self._call("POST", "/v1/invoices", "admin", {
            "client_id": client["id"], "due_date": due.isoformat(),
            "line_items": [{"description": f"Form 1040 preparation, tax year {TAX_YEAR}", "quantity": 1,
                            "unit_price": "450.00"},
                           {"description": "State return", "quantity": 1, "unit_price": "150.00"}]})
        if isinstance(fate, tuple):
            await self._send_past_due(uuid.UUID(invoice["id"]), fate[1])
            await self._wait_for(f"/v1/invoices/{invoice['id']}", "overdue")
            self.report.count("invoices_overdue")
            return
        await self._call("POST", f"/v1/invoices/{invoice['id']}/send", "admin", {})
        if fate == "paid":
            await self._call("POST", f"/v1/invoices/{invoice['id']}/payments", "admin",
                             {"amount": "600.00", "payment_method": "check"})
        self.report.count("invoices_paid" if fate == "paid" else "invoices_due_today")

    async def _send_past_due(self, invoice_id: uuid.UUID, days: int) -> None:
        """The draft's due date moved `days` into the past, then sent by its workflow as the API sends it: the
        workflow's timeline finds the overdue step (and any reminder) already due and takes it."""
        from orchestration import invoice as invoice_workflow

        async with self.sessionmaker.begin() as session:
            row = await session.get(Invoice, invoice_id)
            row.due_date = date.today() - timedelta(days=days)
        await invoice_workflow.send(self.temporal, row, self.settings.reminder_time_utc,
                                    self.settings.invoice_due_days)

    async def _schedule(self, client: dict) -> None:
        return_id = await self._demo_return_id(client)
        existing = await self._call("GET", f"/v1/returns/{return_id}/estimated-payments", "admin", raw=True)
        if existing["data"]:
            return
        await self._call("POST", f"/v1/returns/{return_id}/estimated-payments", "admin", {
            "tax_year": TAX_YEAR + 1, "federal_annual": "8000.00", "state_annual": "2000.00"})
        self.report.count("estimated_payment_schedules")

    # ---- engagement letters and Form 7216 consents ---------------------------------------------------------------

    async def _engagement(self, client: dict, fate: str) -> None:
        found = await self._call("GET", f"/v1/engagements?client_id={client['id']}&tax_year={TAX_YEAR}", "admin")
        if found:
            return
        engagement = await self._call("POST", "/v1/engagements", "admin", {"client_id": client["id"], **LETTER})
        self.report.count("engagements_draft")
        if fate != "draft" and await self._send_for_signature(client, f"/v1/engagements/{engagement['id']}",
                                                              "engagements", fate):
            await self._wait_for(f"/v1/engagements/{engagement['id']}", "signed")

    async def _consent(self, client: dict, fate: str) -> None:
        async with self.sessionmaker() as session:
            if (await session.execute(select(Consent.id).where(
                    Consent.client_id == uuid.UUID(client["id"])))).first() is not None:
                return
        consent = await self._call("POST", f"/v1/clients/{client['id']}/consents", "admin", SUREPREP_CONSENT)
        self.report.count("consents_pending")
        if fate != "pending" and await self._send_for_signature(client, f"/v1/consents/{consent['id']}",
                                                              "consents", fate):
            await self._wait_for(f"/v1/consents/{consent['id']}", "signed")
            # Consent in force: the client's next document goes to SurePrep with it (when SurePrep is configured).
            return_id = await self._demo_return_id(client)
            await self._document(client, str(return_id))

    async def _identity_verification(self, client: dict) -> None:
        async with self.sessionmaker() as session:
            if (await session.execute(select(IdentityVerification.id).where(
                    IdentityVerification.client_id == uuid.UUID(client["id"])))).first() is not None:
                return
        await self._call("POST", f"/v1/clients/{client['id']}/identity/verify", "admin",
                         {"tier": 1, "methods": ["email"]})
        self.report.count("identity_verifications")

    async def _send_for_signature(self, client: dict, path: str, what: str, fate: str) -> bool:
        """Send (moving the count from draft to sent), and sign as the client when `fate` is signed. True once
        signed: the caller waits for the provider's callback to land."""
        if not self.settings.google_api_url:
            return False
        before = len(await self._signing_mails(client["email"]))
        await self._call("POST", f"{path}/send", "admin", {})
        self.report.created[f"{what}_{'draft' if what == 'engagements' else 'pending'}"] -= 1
        self.report.count(f"{what}_sent")
        if fate != "signed" or not self.settings.mail_capture_url:
            return False
        await self._sign_as_client(await self._signing_link(client["email"], before + 1), client["name"])
        self.report.created[f"{what}_sent"] -= 1
        self.report.count(f"{what}_signed")
        return True

    async def _signing_mails(self, email: str) -> list[dict]:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{self.settings.mail_capture_url}/messages", params={"to": email})
        _checked(response)
        return [m for m in response.json() if "sign" in m["subject"].lower()]

    async def _signing_link(self, email: str, count: int) -> str:
        deadline = time.monotonic() + self.wait_s
        while len(mails := await self._signing_mails(email)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no signing mail to {email} after {self.wait_s:.0f} s")
            await asyncio.sleep(0.2)
        return SIGNING_LINK.search(mails[-1]["text"]).group(1)

    @staticmethod
    async def _sign_as_client(link: str, name: str) -> None:
        """What the client does on the signing page (plain HTML forms): agree to electronic records when asked,
        open the document, type their name and sign."""
        async with httpx.AsyncClient(follow_redirects=True, timeout=30) as browser:
            page = _checked_page(await browser.get(link))
            if 'name="agree"' in page:
                _checked_page(await browser.post(f"{link}/consent", data={"agree": "yes"}))
            _checked_page(await browser.get(f"{link}/document"))
            _checked_page(await browser.post(link, data={"action": "sign", "typed_name": name,
                                                          "decline_reason": ""}))

    async def _demo_return_id(self, client: dict) -> uuid.UUID:
        async with self.sessionmaker() as session:
            return (await session.execute(select(TaxReturn.id).where(
                TaxReturn.client_id == uuid.UUID(client["id"]), TaxReturn.tax_year == TAX_YEAR))).scalar_one()

    async def _wait_for(self, path: str, status: str) -> None:
        deadline = time.monotonic() + self.wait_s
        while (await self._call("GET", path, "admin"))["status"] != status:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} not {status} after {self.wait_s:.0f} s: are the workers (and, for a "
                                   "signature, the provider's callback to the API) running?")
            await asyncio.sleep(0.2)

    async def _tally(self) -> None:
        async with self.sessionmaker() as session:
            rows = (await session.execute(select(TaxReturn.status).where(TaxReturn.firm_id == DEMO_FIRM_ID))).all()
        for (status,) in rows:
            self.report.returns_by_status[status] = self.report.returns_by_status.get(status, 0) + 1

    # ---- HTTP --------------------------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, actor: str, body: dict | None = None, raw: bool = False):
        response = await self.api.request(method, path, headers=self.headers[actor], json=body)
        payload = _checked(response)
        return payload if raw else payload.get("data", payload)


def _checked(response: httpx.Response) -> dict:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.request.url.path}: {response.status_code} "
                           f"{response.text[:500]}")
    return response.json() if response.content else {}


def _checked_page(response: httpx.Response) -> str:
    if response.status_code >= 300:
        raise RuntimeError(f"signing page {response.request.url.path}: {response.status_code} {response.text[:300]}")
    return response.text
