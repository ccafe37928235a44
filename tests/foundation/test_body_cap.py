"""The request body cap (issue 13, high 2): only the two upload routes stream past it; a multipart content type on
any other route is capped like any body, so an anonymous sign-in cannot make the API buffer gigabytes."""

from __future__ import annotations

from tests.foundation.conftest import assert_problem


async def test_a_multipart_body_past_the_cap_on_a_non_upload_route_is_refused(tp):
    cap = tp.settings.max_request_body_bytes
    boundary = "x" * 16
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n".encode()
            + b"a" * (cap + 1) + f"\r\n--{boundary}--\r\n".encode())
    for declared in (True, False):  # with Content-Length, and chunked (no length: counted while it arrives)
        async def chunks():
            for start in range(0, len(body), 64 * 1024):
                yield body[start:start + 64 * 1024]
        response = await tp.http.post("/v1/auth/login", content=body if declared else chunks(),
                                      headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert_problem(response, 413)


async def test_an_upload_route_still_takes_a_file_past_the_json_cap(tp):
    """The document routes keep their own cap (50 MB): past 1 MB, an unauthenticated upload is refused for its
    missing token (401), not for its size."""
    body = b"a" * (tp.settings.max_request_body_bytes + 1)
    response = await tp.http.post("/v1/documents", files={"file": ("big.pdf", body, "application/pdf")})
    assert_problem(response, 401)
