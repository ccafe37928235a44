"""DNS rebinding, through real parts and the production (strict) policy: a name whose DNS answer changes between
lookups (sandboxes/dns_server.py, zero TTL) is checked once per attempt, the connection goes to the address that
check found, and an attempt whose lookup answers a forbidden address sends nothing.

The policy is production's: https only, loopback refused. The one widening is the operator setting that exists
for private links, OUTBOUND_WEBHOOK_ALLOWED_NETWORKS = 127.0.0.2/32, where the receiver listens (the test has no
public address to offer); 127.0.0.1, where a second receiver waits with the same certificate and port, stays
forbidden. Names are resolved at the DNS server alone (OUTBOUND_WEBHOOK_NAMESERVERS), the receiver's certificate
is from a CA of the test's own (OUTBOUND_WEBHOOK_CA_FILE). The API that registers and the worker that delivers
are built from those settings by the same code as in production (api/state.py, worker.py); the worker polls a
queue of this test's own, so the suite's development-mode worker never takes these deliveries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from temporalio.worker import Worker

from activities.collect import activity_methods
from devstack.ports import free_port
from domain.context import ServiceContext
from domain.outbound_webhook import service
from domain.principal import Principal
from domain.roles import Role
from orchestration import ids
from orchestration.webhook import DELIVERY_WORKFLOW, DeliveryInput
from sandboxes.dns_server import serve_dns
from sandboxes.webhook_receiver import Receiver, serve
from tests.outbound_webhook.conftest import attempts, problem, unique
from tests.outbound_webhook.test_webhook_endpoints_api import production_api
from worker import webhook_activities
from workflows.webhook_delivery import WebhookDeliveryWorkflow

ALLOWED, FORBIDDEN = "127.0.0.2", "127.0.0.1"
ZONE = "rebind.test"


def _certificates(directory) -> tuple[str, str, str]:
    """A CA, and a certificate it signed for *.rebind.test (no address in it: the name is what is verified).
    Returns the paths of the CA's PEM, the certificate's and its key's."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rebinding test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"*.{ZONE}")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"*.{ZONE}")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [directory / "ca.pem", directory / "receiver.pem", directory / "receiver.key"]
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return tuple(str(p) for p in paths)


@dataclasses.dataclass
class Rebinding:
    dns: object
    receiver: Receiver  # on the allowed address
    other: Receiver  # on the forbidden one, same port and certificate
    port: int
    settings: object
    queue: str


@pytest_asyncio.fixture(loop_scope="session")
async def rebinding(tp, tmp_path):
    ca_file, certfile, keyfile = _certificates(tmp_path)
    dns = await serve_dns()
    port = free_port()
    allowed = await serve(Receiver(), port, host=ALLOWED, certfile=certfile, keyfile=keyfile)
    forbidden = await serve(Receiver(), port, host=FORBIDDEN, certfile=certfile, keyfile=keyfile)
    strict = tp.settings.model_copy(update={
        "outbound_webhook_allow_local": False, "outbound_webhook_allowed_networks": [f"{ALLOWED}/32"],
        "outbound_webhook_nameservers": [dns.nameserver], "outbound_webhook_ca_file": ca_file})
    queue = unique("webhooks-strict")
    deps = dataclasses.replace(tp.worker_deps, settings=strict)
    try:
        async with Worker(tp.temporal, task_queue=queue, workflows=[WebhookDeliveryWorkflow],
                          activities=activity_methods(webhook_activities(deps))):
            yield Rebinding(dns, allowed.receiver, forbidden.receiver, port, strict, queue)
    finally:
        await allowed.stop()
        await forbidden.stop()
        await dns.stop()


async def _deliver_test_event(tp, firm, endpoint_id: str, queue: str) -> tuple[uuid.UUID, str]:
    """POST …/test's delivery row, its workflow run on the strict worker's queue; (delivery id, outcome)."""
    async with tp.state.sessionmaker.begin() as session:
        ctx = ServiceContext(session, Principal(firm_id=firm.firm_id, role=Role.ADMIN, subject_id=firm.admin_id))
        delivery_id = (await service.send_test(ctx, uuid.UUID(endpoint_id))).id
    outcome = await tp.temporal.execute_workflow(DELIVERY_WORKFLOW, DeliveryInput(delivery_id=delivery_id),
                                                 id=ids.webhook_delivery(delivery_id), task_queue=queue,
                                                 result_type=str)
    return delivery_id, outcome


async def test_each_attempt_connects_to_the_address_it_checked(tp, firm, rebinding):
    name = f"{unique('hooks')}.{ZONE}"
    path = "/ok/" + unique("rebinding")
    # One answer per lookup: registration, the first delivery's attempt, then the rebinding to loopback, then back.
    rebinding.dns.script(name, "A", [ALLOWED], [ALLOWED], [FORBIDDEN], [ALLOWED])
    async with production_api(tp, **{k: v for k, v in rebinding.settings.model_dump().items()
                                     if k.startswith("outbound_webhook_")}) as http:
        created = await http.post("/v1/admin/webhooks", headers=firm.admin,
                                  json={"url": f"https://{name}:{rebinding.port}{path}", "events": ["invoice.paid"]})
    assert created.status_code == 201, created.text
    assert rebinding.dns.asked(name) == 1
    endpoint = created.json()["data"]
    for receiver in (rebinding.receiver, rebinding.other):  # both would verify it: only the address tells them apart
        receiver.trust(path, endpoint["secret"])

    # (a) The attempt looks the name up once and connects to that answer. The next answer is already loopback:
    # a second lookup by the HTTP stack would have reached the other receiver (and the system's resolver does not
    # know the name at all), yet the request arrives at the checked address, for the name, over TLS verified for
    # the name.
    first, outcome = await _deliver_test_event(tp, firm, endpoint["id"], rebinding.queue)
    assert outcome == "succeeded"
    assert rebinding.dns.asked(name) == 2
    got = rebinding.receiver.at(path)
    assert len(got) == 1 and got[0].verified and got[0].headers["host"] == f"{name}:{rebinding.port}"
    assert rebinding.other.received == []

    # (b) The name now answers loopback: that attempt is refused before any connection, logged with the reason,
    # and retried on the schedule (5 s later), when the name answers the allowed address again.
    second, outcome = await _deliver_test_event(tp, firm, endpoint["id"], rebinding.queue)
    assert outcome == "succeeded"
    rows = await attempts(tp, second)
    assert [r.number for r in rows] == [1, 2] and [r.succeeded for r in rows] == [False, True], rows
    assert rows[0].status_code is None and f"{FORBIDDEN} is a loopback address" in rows[0].error, rows[0].error
    assert rebinding.dns.asked(name) == 4
    assert len(rebinding.receiver.at(path)) == 2 and rebinding.other.received == []


async def test_registration_refuses_a_name_with_any_forbidden_answer(tp, firm, rebinding):
    loopback, mixed, unknown = (f"{unique(n)}.{ZONE}" for n in ("loopback", "mixed", "unknown"))
    rebinding.dns.script(loopback, "A", [FORBIDDEN])
    rebinding.dns.script(mixed, "A", [ALLOWED, "10.0.0.7"])  # one private answer among allowed ones is enough
    settings = {k: v for k, v in rebinding.settings.model_dump().items() if k.startswith("outbound_webhook_")}
    async with production_api(tp, **settings) as http:
        for host, code in ((loopback, "webhook_url_forbidden"), (mixed, "webhook_url_forbidden"),
                           (unknown, "webhook_url_unresolvable"), ("localhost", "webhook_url_unresolvable")):
            body = problem(await http.post("/v1/admin/webhooks", headers=firm.admin, json={
                "url": f"https://{host}:{rebinding.port}/ok/x", "events": ["invoice.paid"]}), 422)
            assert body["errors"][0]["code"] == code, (host, body)
        # The allowed network passes in production; the rest of loopback does not, even by its literal address.
        problem(await http.post("/v1/admin/webhooks", headers=firm.admin, json={
            "url": f"https://{FORBIDDEN}:{rebinding.port}/ok/x", "events": ["invoice.paid"]}), 422)
        ok = await http.post("/v1/admin/webhooks", headers=firm.admin, json={
            "url": f"https://{ALLOWED}:{rebinding.port}/ok/x", "events": ["invoice.paid"]})
        assert ok.status_code == 201, ok.text
    assert rebinding.dns.asked("localhost") == 1  # asked of the configured server, not read from /etc/hosts
