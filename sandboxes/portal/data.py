"""What the portal sandbox holds: logins, their linked accounts, and each account's surfaces.

Ids are per account ("doc_1" exists in every account), as a portal's may be: the connector must keep them apart.
Every item has `updated_at`; `touch` changes one so an incremental read (`updated_since`) sees it.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

DEMO_EMAIL = "demo@portal.example"
DEMO_PASSWORD = "demo portal password"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # base32; RFC 6238, SHA-1, 6 digits, 30 s
LARGE_EMAIL = "large@portal.example"  # the benchmark's login (`python -m sandboxes.portal --large`)
LARGE_PASSWORD = "large portal password"

FOLDERS = ("client_uploaded", "firm_shared", "organizer_attachments")
SURFACES = ("documents", "organizers", "engagements", "signatures", "invoices", "threads", "tasks")
BASE_TIME = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pdf_bytes(title: str, size: int = 0, seed: int = 0) -> bytes:
    """A small valid-looking PDF, padded with deterministic bytes to `size` (the bench's ~50 KB documents)."""
    head = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"% " + title.encode() + b"\n")
    tail = b"trailer<</Root 1 0 R>>\n%%EOF\n"
    pad = max(0, size - len(head) - len(tail))
    return head + random.Random(seed).randbytes(pad) + tail


@dataclass
class Account:
    id: str
    name: str
    type: str
    region: str
    documents: dict[str, dict] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)
    organizers: dict[str, dict] = field(default_factory=dict)
    engagements: dict[str, dict] = field(default_factory=dict)
    signatures: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    threads: dict[str, dict] = field(default_factory=dict)
    messages: dict[str, dict[str, dict]] = field(default_factory=dict)  # thread id → message id → message
    tasks: dict[str, dict] = field(default_factory=dict)

    def public(self) -> dict:
        return {"id": self.id, "name": self.name, "type": self.type, "region": self.region}

    def add_document(self, folder: str, path: str, name: str, content: bytes, at: datetime = BASE_TIME) -> dict:
        doc_id = f"doc_{len(self.documents) + 1}"
        item = {"id": doc_id, "name": name, "path": path, "folder": folder, "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(), "content_type": "application/pdf",
                "uploaded_at": stamp(at), "updated_at": stamp(at)}
        self.documents[doc_id] = item
        self.contents[doc_id] = content
        return item

    def add_thread(self, subject: str, messages: list[tuple[str, str, str]], at: datetime = BASE_TIME) -> str:
        thread_id = f"th_{len(self.threads) + 1}"
        box = self.messages.setdefault(thread_id, {})
        for n, (author_type, author_name, body) in enumerate(messages):
            message_id = f"m_{sum(len(m) for m in self.messages.values()) + 1}"
            sent = stamp(at + timedelta(seconds=n))
            box[message_id] = {"id": message_id, "author": {"type": author_type, "name": author_name}, "body": body,
                               "sent_at": sent, "attachment_ids": [], "updated_at": sent}
        # A thread changes when a message in it does (the connector reads messages of changed threads only).
        self.threads[thread_id] = {"id": thread_id, "subject": subject,
                                   "updated_at": stamp(at + timedelta(seconds=max(0, len(messages) - 1)))}
        return thread_id

    def add_invoice(self, number: str, total: str, paid: str, at: datetime = BASE_TIME) -> dict:
        inv_id = f"inv_{len(self.invoices) + 1}"
        status = "paid" if paid == total else ("unpaid" if paid == "0.00" else "partially_paid")
        payments = [] if paid == "0.00" else [{"id": f"pay_{len(self.invoices) + 1}", "amount": paid,
                                                "method": "stripe", "paid_at": stamp(at), "recurring": False}]
        item = {"id": inv_id, "number": number, "currency": "USD", "total": total, "amount_paid": paid,
                "status": status, "issued_at": stamp(at), "due_at": stamp(at + timedelta(days=30)),
                "updated_at": stamp(at),
                "line_items": [{"description": "1040 preparation", "quantity": "1", "unit_price": total}],
                "payments": payments}
        self.invoices[inv_id] = item
        return item

    def surface(self, name: str) -> dict[str, dict]:
        return getattr(self, name)


@dataclass
class Login:
    email: str
    password: str
    totp_secret: str | None
    account_ids: list[str]


class PortalData:
    def __init__(self) -> None:
        self.logins: dict[str, Login] = {}
        self.accounts: dict[str, Account] = {}

    def add_login(self, email: str, password: str, totp_secret: str | None, accounts: list[Account]) -> Login:
        for account in accounts:
            self.accounts[account.id] = account
        login = Login(email, password, totp_secret, [a.id for a in accounts])
        self.logins[email.lower()] = login
        return login

    def touch(self, account_id: str, surface: str, item_id: str, changes: dict | None = None,
              at: datetime | None = None) -> dict:
        """Change an item (and its `updated_at`), as the portal's user would."""
        account = self.accounts[account_id]
        moment = stamp(at or datetime.now(timezone.utc))
        if surface == "messages":
            thread_id = next(t for t, box in account.messages.items() if item_id in box)
            item = account.messages[thread_id][item_id]
            account.threads[thread_id]["updated_at"] = moment
        else:
            item = account.surface(surface)[item_id]
        item.update(changes or {})
        item["updated_at"] = moment
        return item

    # ---- the demo login: a couple and their business under one login -----------------------------------------

    @classmethod
    def demo(cls) -> "PortalData":
        data = cls()
        couple = Account("acc_1", "Jordan & Casey Lee", "individual", "us")
        business = Account("acc_2", "Lee Landscaping LLC", "business", "us")
        for account in (couple, business):
            fill_account(account)
        data.add_login(DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOTP_SECRET, [couple, business])
        return data


def fill_account(account: Account) -> None:
    """A small working file: documents in each folder area (nested paths), an organizer whose answer points at a
    document, an engagement, its signature, invoices with a payment, a thread and tasks."""
    w2 = account.add_document("client_uploaded", "2025/Income", "W2_Acme_2025.pdf", pdf_bytes("W2 Acme", seed=1))
    account.add_document("client_uploaded", "", "Drivers_License.pdf", pdf_bytes("ID", seed=2))
    letter = account.add_document("firm_shared", "Engagement", "Engagement_2025.pdf", pdf_bytes("Letter", seed=3))
    receipt = account.add_document("organizer_attachments", "2025 Individual Organizer/Income", "1099-INT.pdf",
                                   pdf_bytes("1099", seed=4))
    t = stamp(BASE_TIME)
    account.organizers["org_1"] = {
        "id": "org_1", "title": "2025 Individual Organizer", "tax_year": 2025, "status": "completed",
        "sent_at": t, "completed_at": t, "updated_at": t,
        "questions": [
            {"id": "q_1", "section": "Income", "text": "Did you receive a W-2?",
             "answer": {"type": "boolean", "value": True}, "attachment_ids": [w2["id"]]},
            {"id": "q_2", "section": "Income", "text": "Interest statements", "answer": {"type": "file",
             "value": receipt["id"]}, "attachment_ids": [receipt["id"]]},
            {"id": "q_3", "section": "Dependents", "text": "Any new dependents?", "answer": None,
             "attachment_ids": []}]}
    account.engagements["eng_1"] = {"id": "eng_1", "title": "2025 Tax Preparation", "status": "accepted",
                                    "accepted_at": t, "signer_name": "Jordan Lee", "document_id": letter["id"],
                                    "updated_at": t}
    account.signatures["sig_1"] = {"id": "sig_1", "document_id": letter["id"], "status": "signed", "signed_at": t,
                                   "standard": "esign_us",
                                   "audit_trail": [{"event": "viewed", "at": t, "ip": "203.0.113.7"},
                                                   {"event": "signed", "at": t, "ip": "203.0.113.7"}],
                                   "updated_at": t}
    account.add_invoice("1042", "450.00", "200.00")
    account.add_invoice("1043", "120.00", "120.00")
    account.add_thread("Missing 1099", [("firm", "Pat Preparer", "Could you upload your 1099-INT?"),
                                        ("client", "Jordan Lee", "Uploaded it to the organizer.")])
    account.tasks["t_1"] = {"id": "t_1", "title": "Sign engagement letter", "status": "done", "due_at": None,
                            "completed_at": t, "updated_at": t}
    account.tasks["t_2"] = {"id": "t_2", "title": "Upload brokerage statements", "status": "open",
                            "due_at": stamp(BASE_TIME + timedelta(days=20)), "completed_at": None, "updated_at": t}


def large_account(account_id: str = "acc_big", documents: int = 1000, document_size: int = 50_000,
                  invoices: int = 300, messages: int = 2000, per_thread: int = 50) -> Account:
    """The benchmark's account: by default 1,000 documents of ~50 KB (~50 MB), 300 invoices, 2,000 messages."""
    account = Account(account_id, "Large Account Holdings", "business", "us")
    # Each item changed at its own moment (a second apart), as in a portal used over months.
    for n in range(documents):
        folder = FOLDERS[n % 3]
        account.add_document(folder, f"{2020 + n % 6}/Batch {n // 100}", f"file_{n}.pdf",
                             pdf_bytes(f"doc {n}", document_size, seed=n), at=BASE_TIME + timedelta(seconds=n))
    for n in range(invoices):
        account.add_invoice(str(5000 + n), "300.00", "100.00" if n % 2 else "300.00",
                            at=BASE_TIME + timedelta(seconds=n))
    for start in range(0, messages, per_thread):
        count = min(per_thread, messages - start)
        account.add_thread(f"Thread {start // per_thread}",
                           [("client" if i % 2 else "firm", "Someone", f"message {start + i}") for i in range(count)],
                           at=BASE_TIME + timedelta(seconds=start))
    return account
