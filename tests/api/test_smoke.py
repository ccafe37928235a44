async def test_health(tp):
    response = await tp.http.get("/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"


async def test_login_and_create_client(tp):
    firm = await tp.new_firm()
    admin = await tp.new_user(firm, "admin")
    tokens = await tp.login(admin)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    client = await tp.new_client(headers, ssn="123-45-6789")
    assert client["ssn_last4"] == "6789"
    listed = await tp.http.get("/v1/clients", headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["pagination"]["total_count"] == 1
