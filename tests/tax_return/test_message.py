"""Messages (spec §8): staff and client write on the client's thread; notify_email mails the other side."""

from __future__ import annotations

from tests.tax_return.conftest import assert_problem, create_return


async def test_messages_both_ways(tp, office):
    h, client = office.headers, office.client
    rid = (await create_return(tp, h["preparer"], client["id"]))["id"]
    base = f"/v1/clients/{client['id']}/messages"
    sent = await tp.http.post(base, headers=h["preparer"], json={
        "return_id": rid, "subject": "Missing document needed", "body": "Hello, we need your 1099-B.",
        "notify_email": True})
    assert sent.status_code == 201, sent.text
    outbound = sent.json()["data"]
    assert outbound["direction"] == "outbound" and outbound["sender_type"] == "staff"
    assert outbound["sender_name"] == "Test preparer" and outbound["read_at"] is None
    mail = await tp.wait_for_mail(client["email"])
    assert "Missing document needed" in mail["subject"] and "1099-B" not in str(mail.get("body", mail))

    reply = await tp.http.post(base, headers=h["client"], json={
        "return_id": rid, "subject": "Re: Missing document", "body": "Uploaded it", "notify_email": True})
    inbound = reply.json()["data"]
    assert inbound["direction"] == "inbound" and inbound["sender_type"] == "client"
    await tp.wait_for_mail(office.users["preparer"].email)

    # Only the recipient marks read; the client reads the outbound one, staff the inbound one.
    assert_problem(await tp.http.post(f"{base}/{outbound['id']}/read", headers=h["preparer"]), 422)
    read = await tp.http.post(f"{base}/{outbound['id']}/read", headers=h["client"])
    assert read.status_code == 200 and read.json()["data"]["read_at"]
    assert (await tp.http.post(f"{base}/{inbound['id']}/read", headers=h["reviewer"])).status_code == 200

    listed = (await tp.http.get(f"{base}?direction=inbound", headers=h["preparer"])).json()
    assert [m["id"] for m in listed["data"]] == [inbound["id"]]
    both = (await tp.http.get(f"{base}?return_id={rid}", headers=h["client"])).json()
    assert [m["id"] for m in both["data"]] == [inbound["id"], outbound["id"]]  # newest first
    assert_problem(await tp.http.get(f"{base}?direction=sideways", headers=h["admin"]), 400)
    assert_problem(await tp.http.post(base, headers=h["admin"], json={"subject": "", "body": "x"}), 400)
    # Another client's return cannot be attached; another client's thread is invisible.
    other = await tp.new_client(h["admin"])
    other_return = await create_return(tp, h["admin"], other["id"])
    assert_problem(await tp.http.post(base, headers=h["admin"], json={
        "return_id": other_return["id"], "subject": "x", "body": "y"}), 404)
    assert_problem(await tp.http.get(f"/v1/clients/{other['id']}/messages", headers=h["client"]), 404)


async def test_a_subject_is_one_line(tp, office):
    """The subject goes into the notification mail's Subject header, where a line break would be refused after
    the 201 and the notice lost: a 400 at once, from either side; the body keeps its lines."""
    h, client = office.headers, office.client
    base = f"/v1/clients/{client['id']}/messages"
    for headers in (h["preparer"], h["client"]):
        for subject in ("a\nb", "x\r\nBcc: someone@example.com", "a\x85b", "a\u2028b", "bell\x07"):
            refused = assert_problem(await tp.http.post(base, headers=headers, json={
                "subject": subject, "body": "b", "notify_email": True}), 400)
            assert [e["field"] for e in refused["errors"]] == ["subject"]
    assert (await tp.http.get(base, headers=h["admin"])).json()["pagination"]["total_count"] == 0
    sent = await tp.http.post(base, headers=h["preparer"], json={"subject": "  Two lines \n", "body": "one\ntwo"})
    assert sent.status_code == 201 and sent.json()["data"]["subject"] == "Two lines"
