"""Test harness helpers: build the app on the embedded stack and act as firms, staff and clients."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.state import AppState, build_state
from devstack.ports import free_port
from domain.config.service import load_config
from domain.firm.models import Firm
from domain.user.models import User
from domain.user.service import create_user
from settings import Settings
from worker import WorkerDependencies, build_workers
from orchestration import queues, search_attributes
from orchestration.connect import connect, signal_if_running

PASSWORD = "correct horse battery staple"


async def outbox_entries(tp, entity_id: uuid.UUID | str) -> list:
    """The outbox entries about one entity (orchestration/outbox.py): messages not yet delivered."""
    from sqlalchemy import select

    from domain.outbox.models import OutboxEntry

    async with tp.state.sessionmaker() as session:
        return list((await session.execute(
            select(OutboxEntry).where(OutboxEntry.entity_id == str(entity_id))
            .order_by(OutboxEntry.created_at))).scalars())


async def domain_events(tp, entity_id: uuid.UUID | str) -> list[tuple[str, dict]]:
    """The domain events recorded about one entity (domain/event/), oldest first: (type, data)."""
    from sqlalchemy import select

    from domain.event.models import DomainEvent

    async with tp.state.sessionmaker() as session:
        return [(e.type, e.data) for e in (await session.execute(
            select(DomainEvent).where(DomainEvent.entity_id == uuid.UUID(str(entity_id)))
            .order_by(DomainEvent.occurred_at, DomainEvent.id))).scalars()]


async def deliver(tp, entry_id: uuid.UUID) -> bool:
    """What the outbox relay does with one entry."""
    from orchestration import outbox

    return await outbox.deliver(tp.temporal, tp.state.sessionmaker, tp.state.mailer, tp.state.cipher, entry_id)


@contextlib.asynccontextmanager
async def api_without_temporal(tp):
    """The same API on the same database, configured with a Temporal address where nothing listens."""
    settings = tp.settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    state = build_state(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings, state)),
                                     base_url="http://testserver") as http:
            yield http
    finally:
        await state.engine.dispose()


def make_settings(env: dict[str, str], data_dir: Path, **overrides) -> Settings:
    values = {key.lower(): value for key, value in env.items()}
    values.update(app_env="test", data_dir=data_dir, rate_limit_auth=100_000, rate_limit_standard=1_000_000,
                  rate_limit_upload=100_000, rate_limit_webhook=100_000,
                  rate_limit_signin_per_account=100_000)
    # The payments sandbox's address, reserved here because the workers read it at start-up; tests/billing
    # starts the sandbox on it (tests that never pay never start it).
    values.setdefault("stripe_api_base", f"http://127.0.0.1:{free_port()}")
    # The e-file transmitter sandbox's address, reserved the same way (tests/efile starts it), and acknowledgement
    # polling in tenths of seconds instead of the development's seconds.
    values.setdefault("efiling_api_url", f"http://127.0.0.1:{free_port()}")
    values.setdefault("efile_poll_initial_s", 0.3)
    values.setdefault("efile_poll_max_s", 2.0)
    # The Persona and SMS gateway sandboxes' addresses (tests/identity starts them).
    values.setdefault("persona_api_url", f"http://127.0.0.1:{free_port()}")
    values.setdefault("sms_gateway_url", f"http://127.0.0.1:{free_port()}")
    # The e-signature sandbox's address, likewise reserved: the harness starts it there (every test may send for
    # signature); its callbacks are handed to the in-process app by tests/esign/conftest.deliver_signature_events.
    values.setdefault("google_api_url", f"http://127.0.0.1:{free_port()}")
    values.update(overrides)
    return Settings(**values)


def _start_esign_sandbox(settings: Settings):
    from urllib.parse import urlparse

    from sandboxes import esign

    if not settings.google_api_url:
        return None
    return esign.start(settings.google_api_key, settings.google_webhook_secret, None, settings.smtp_host,
                       settings.smtp_port, urlparse(settings.google_api_url).port)


@dataclass
class StaffUser:
    id: uuid.UUID
    email: str
    role: str
    firm_id: uuid.UUID
    totp_secret: str
    password: str = PASSWORD
    _last_step: int = -1

    def next_code(self) -> str:
        """A TOTP code for a time step not used yet (a code works once, so logins in one 30 s step need the
        next step's code, which the server accepts for clock drift)."""
        totp = pyotp.TOTP(self.totp_secret)
        step = max(int(time.time() // 30), self._last_step + 1)
        self._last_step = step
        return totp.generate_otp(step)


@dataclass
class TaxPracticeHarness:
    settings: Settings
    state: AppState
    http: httpx.AsyncClient
    temporal: object
    workers: list = field(default_factory=list)
    worker_deps: WorkerDependencies | None = None
    esign: object = None  # the e-signature sandbox (sandboxes/esign.py) on settings.google_api_url
    _worker_tasks: list = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings, api_url: str | None = None) -> "TaxPracticeHarness":
        """In process (the tests): the app through httpx's ASGI transport and workers in this event loop.
        With `api_url` (the benchmarks): HTTP to a real API process, and no workers here."""
        state = build_state(settings)
        temporal = await connect(settings)
        state.use_temporal_client(temporal)
        if api_url is not None:
            http = httpx.AsyncClient(base_url=api_url, timeout=60,
                                     limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
            return cls(settings=settings, state=state, http=http, temporal=temporal)
        app = create_app(settings, state)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        harness = cls(settings=settings, state=state, http=http, temporal=temporal)
        harness.esign = _start_esign_sandbox(settings)
        harness._start_workers()
        return harness

    def _start_workers(self) -> None:
        self.worker_deps = WorkerDependencies.from_settings(self.settings)
        self.workers = build_workers(self.temporal, self.worker_deps, list(queues.ALL))
        self._worker_tasks = [asyncio.create_task(w.run()) for w in self.workers]

    async def _stop_workers(self) -> None:
        await asyncio.gather(*(w.shutdown() for w in self.workers), return_exceptions=True)
        await asyncio.gather(*self._worker_tasks, return_exceptions=True)
        if self.worker_deps is not None:
            await self.worker_deps.sessionmaker.kw["bind"].dispose()

    async def restart_workers(self) -> None:
        """The workers build their providers once, from the settings, when they start (worker.py): a test that
        points the settings at another provider (a sandbox it started) restarts them, as a deployment would."""
        await self._stop_workers()
        self._start_workers()

    async def stop(self) -> None:
        await self.http.aclose()
        await self._stop_workers()
        if self.esign is not None:
            self.esign.stop()
        await self.state.engine.dispose()

    # ---- data ---------------------------------------------------------------------------------------------

    async def new_firm(self, name: str = "Test firm") -> uuid.UUID:
        async with self.state.sessionmaker.begin() as session:
            firm = Firm(id=uuid.uuid4(), name=name)
            session.add(firm)
            await session.flush()
            await load_config(session, firm.id)
        return firm.id

    async def new_user(self, firm_id: uuid.UUID, role: str, password: str = PASSWORD) -> StaffUser:
        email = f"{role}-{uuid.uuid4().hex[:10]}@firm.example.com"
        async with self.state.sessionmaker.begin() as session:
            user, secret = await create_user(session, firm_id, email, f"Test {role}", role, self.state.cipher,
                                             password=password)
        return StaffUser(id=user.id, email=email, role=role, firm_id=firm_id, totp_secret=secret, password=password)

    async def login(self, user: StaffUser) -> dict:
        """The full sign-in through the API: password, then TOTP. Returns the token response."""
        first = await self.http.post("/v1/auth/login", json={"email": user.email, "password": user.password})
        assert first.status_code == 200, first.text
        second = await self.http.post("/v1/auth/mfa/verify",
                                      json={"mfa_token": first.json()["mfa_token"], "code": user.next_code()})
        assert second.status_code == 200, second.text
        return second.json()

    async def headers_for(self, user: StaffUser) -> dict:
        """Bearer headers for a staff user, through a real session (without the HTTP sign-in round trips)."""
        async with self.state.sessionmaker.begin() as session:
            row = await session.get(User, user.id)
            pair = await self.state.authenticator.open_session(session, row, await load_config(session, row.firm_id))
        return {"Authorization": f"Bearer {pair.access_token}"}

    async def staff_session(self, firm_id: uuid.UUID, role: str) -> tuple[uuid.UUID, dict]:
        """A staff user with a live session but no password: (user id, bearer headers). Hashing a password
        costs an argon2 run, which only the sign-in tests need to pay."""
        email = f"{role}-{uuid.uuid4().hex[:10]}@firm.example.com"
        async with self.state.sessionmaker.begin() as session:
            user, _ = await create_user(session, firm_id, email, f"Test {role}", role, self.state.cipher)
            pair = await self.state.authenticator.open_session(session, user, await load_config(session, firm_id))
        return user.id, {"Authorization": f"Bearer {pair.access_token}"}

    async def staff(self, firm_id: uuid.UUID, role: str) -> tuple[StaffUser, dict]:
        user = await self.new_user(firm_id, role)
        return user, await self.headers_for(user)

    async def new_client(self, headers: dict, **fields) -> dict:
        body = {"client_type": "individual", "name": f"Client {uuid.uuid4().hex[:6]}",
                "email": f"client-{uuid.uuid4().hex[:8]}@example.com", **fields}
        response = await self.http.post("/v1/clients", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()["data"]

    async def mail_to(self, address: str) -> list[dict]:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{self.settings.mail_capture_url}/messages", params={"to": address})
            response.raise_for_status()
            return response.json()

    async def wait_for_mail(self, address: str, timeout_s: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            messages = await self.mail_to(address)
            if messages:
                return messages[-1]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no mail to {address} within {timeout_s} s")


@dataclass
class Transmitter:
    """The e-file transmitter sandbox (sandboxes/efile.py) as the tests drive it."""

    url: str
    sandbox: object
    pumping: bool = True
    delivered: list = field(default_factory=list)  # (event, status code, answer)

    async def configure(self, **values) -> None:
        async with httpx.AsyncClient() as http:
            (await http.post(f"{self.url}/_sandbox/config", json=values)).raise_for_status()

    async def outage(self, failures: int) -> None:
        async with httpx.AsyncClient() as http:
            (await http.post(f"{self.url}/_sandbox/outage", json={"failures": failures})).raise_for_status()

    async def submissions(self) -> list[dict]:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{self.url}/_sandbox/submissions")).json()


EFILE_ACK_DELAY_S = 0.3


async def pump_sandbox_webhooks(tp, box, sandbox_url: str, api_path: str) -> None:
    """Hand a sandbox's signed webhooks (its /_sandbox/outbox) to the in-process app while `box.pumping`, keeping
    each (delivery, status code, answer) in `box.delivered`. Runs until cancelled."""
    async with httpx.AsyncClient() as http:
        while True:
            if box.pumping:
                for delivery in (await http.get(f"{sandbox_url}/_sandbox/outbox")).json():
                    answer = await tp.http.post(api_path, content=delivery["body"].encode(),
                                                headers=delivery["headers"])
                    box.delivered.append((delivery, answer.status_code, answer.json()))
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def serve_transmitter(tp):
    from urllib.parse import urlparse

    from sandboxes.efile import start

    settings = tp.settings
    server = start(settings.efiling_api_key, settings.efiling_webhook_secret, None,
                   urlparse(settings.efiling_api_url).port, ack_delay_s=EFILE_ACK_DELAY_S)
    box = Transmitter(server.url, server.sandbox)

    task = asyncio.create_task(pump_sandbox_webhooks(tp, box, box.url, "/v1/webhooks/efiling"))
    try:
        yield box
    finally:
        task.cancel()
        server.stop()


@dataclass
class IdentitySandboxes:
    """The Persona sandbox (its webhooks pumped into the in-process app) and the SMS gateway capture."""

    persona_url: str
    sms_url: str
    delivered: list = field(default_factory=list)  # (delivery, status code, answer)
    pumping: bool = True

    async def configure_persona(self, **values) -> None:
        async with httpx.AsyncClient() as http:
            (await http.post(f"{self.persona_url}/_sandbox/config", json=values)).raise_for_status()

    async def texts_to(self, number: str) -> list[dict]:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{self.sms_url}/messages", params={"to": number})).json()


@contextlib.asynccontextmanager
async def serve_identity_sandboxes(tp):
    from urllib.parse import urlparse

    from sandboxes import persona, sms_gateway

    settings = tp.settings
    persona_server = persona.start(settings.persona_api_key, settings.persona_webhook_secret, None,
                                   urlparse(settings.persona_api_url).port)
    sms_server = sms_gateway.start(settings.sms_gateway_api_key, urlparse(settings.sms_gateway_url).port)
    box = IdentitySandboxes(persona_server.url, sms_server.url)

    task = asyncio.create_task(pump_sandbox_webhooks(tp, box, box.persona_url, "/v1/webhooks/persona"))
    try:
        yield box
    finally:
        task.cancel()
        persona_server.stop()
        sms_server.stop()


@contextlib.contextmanager
def scratch_database(database_url: str):
    """An empty database of its own on the suite's Postgres, as the owner, dropped afterwards: for migration tests,
    which walk revisions up and down (the suite's own database is at head already). Yields (engine, alembic config)."""
    from alembic.config import Config
    from sqlalchemy import create_engine, make_url, pool

    from migrations.runner import alembic_config

    url = make_url(database_url)
    name = f"migration_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    target = url.set(database=name)
    engine = create_engine(target, poolclass=pool.NullPool)
    config: Config = alembic_config(target.render_as_string(hide_password=False))
    try:
        yield engine, config
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


async def signal_ending(client: Client, handle: WorkflowHandle, signal, arg=None) -> None:
    """Send the signal a workflow ends on, as production sends signals (`signal_if_running`): the client retries a
    signal whose answer it did not get in time (a time-skipping server slowed by a loaded CI machine), and a retry
    that arrives after the first delivery has ended the workflow is refused (NOT_FOUND, "Completed workflow")
    although the signal was heard. The caller's `await handle.result()` then says whether it ended as expected."""
    await signal_if_running(client, handle.id, signal, arg)


async def start_time_skipping() -> WorkflowEnvironment:
    """The time-skipping test server (the binary installed next to this interpreter, no download), with every
    search attribute of the project registered first: upserting an unregistered one hangs the test server. The
    caller shuts it down (`await env.shutdown()`)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=pydantic_data_converter)
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=env.client.namespace,
        search_attributes={key.name: key.indexed_value_type for key in search_attributes.ALL}))
    return env
