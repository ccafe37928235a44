"""The embedded stack starts on free ports in a temporary folder, and every part answers as the app uses it."""

import smtplib
import socket
from email.message import EmailMessage

import httpx
import pytest
import sqlalchemy
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from devstack.ports import HOST, accepts_connections, free_port
from devstack.s3 import s3_client, start_s3
from devstack.stack import EmbeddedStack
from sandboxes.mail_capture import start_mail_capture


async def test_embedded_stack_parts_answer(tmp_path, monkeypatch):
    # Start our own parts even when the session already points these variables at a shared stack.
    for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)

    with EmbeddedStack(tmp_path / "stack", fixed_ports=False) as stack:
        env = stack.env

        engine = sqlalchemy.create_engine(env["DATABASE_URL"])
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT 1")).scalar() == 1
        engine.dispose()

        client = await Client.connect(env["TEMPORAL_ADDRESS"], namespace=env["TEMPORAL_NAMESPACE"])
        attrs = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=env["TEMPORAL_NAMESPACE"]))
        assert "EntityStatus" in attrs.custom_attributes

        s3 = s3_client(env["S3_ENDPOINT_URL"], env["S3_REGION"])
        s3.put_object(Bucket=env["S3_BUCKET"], Key="t/hello.txt", Body=b"hello", ServerSideEncryption="AES256")
        got = s3.get_object(Bucket=env["S3_BUCKET"], Key="t/hello.txt")
        assert got["Body"].read() == b"hello"
        assert got["ServerSideEncryption"] == "AES256"

        message = EmailMessage()
        message["From"] = "no-reply@taxpractice.local"
        message["To"] = "client@example.com"
        message["Subject"] = "Your documents"
        message.set_content("Please upload your W-2.")
        with smtplib.SMTP(env["SMTP_HOST"], int(env["SMTP_PORT"])) as smtp:
            smtp.send_message(message)
        received = httpx.get(f"{env['MAIL_CAPTURE_URL']}/messages", params={"to": "client@example.com"}).json()
        assert [(m["subject"], m["text"].strip()) for m in received] == [("Your documents", "Please upload your W-2.")]

    # Stopped: nothing is left listening.
    ports = [int(env["TEMPORAL_ADDRESS"].rsplit(":", 1)[1]), int(env["S3_ENDPOINT_URL"].rsplit(":", 1)[1]),
             int(env["SMTP_PORT"]), int(env["MAIL_CAPTURE_URL"].rsplit(":", 1)[1])]
    assert [port for port in ports if accepts_connections(port)] == []
    with pytest.raises(sqlalchemy.exc.OperationalError):
        sqlalchemy.create_engine(env["DATABASE_URL"]).connect()


def _taken_port(sock: socket.socket) -> int:
    sock.bind((HOST, 0))
    sock.listen()
    return sock.getsockname()[1]


# The race free ports leave open: another process binds a port between its hand-out and the part's start.
def test_s3_whose_free_port_was_taken_starts_on_a_new_one(tmp_path):
    with socket.socket() as taken:
        ports = {"s3": _taken_port(taken)}
        s3 = EmbeddedStack(tmp_path, fixed_ports=False)._start_on(
            ports, ("s3",), "s3", lambda: start_s3(tmp_path / "s3", ports["s3"]))
        try:
            assert ports["s3"] != taken.getsockname()[1] and s3.endpoint_url.endswith(f":{ports['s3']}")
            s3_client(s3.endpoint_url).list_buckets()
        finally:
            s3.stop()


def test_the_mail_capture_whose_free_port_was_taken_starts_on_a_new_one(tmp_path):
    with socket.socket() as taken:
        ports = {"smtp": _taken_port(taken), "mail_http": free_port()}
        mail = EmbeddedStack(tmp_path, fixed_ports=False)._start_on(
            ports, ("smtp", "mail_http"), "mail",
            lambda: start_mail_capture(tmp_path / "mail", ports["smtp"], ports["mail_http"]))
        try:
            assert ports["smtp"] != taken.getsockname()[1] and mail.smtp_port == ports["smtp"]
            assert httpx.get(f"{mail.http_url}/messages").status_code == 200
        finally:
            mail.stop()
