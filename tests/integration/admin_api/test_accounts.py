from tests.integration.admin_api.conftest import PASSWORD, Admin
from vending_core.service.admin_accounts import hash_password, verify_password
from vending_core.service.admin_records import AdminLevel, AuditFilter

ADMIN, SMS, POS, OPERATOR = (
    AdminLevel.ADMINISTRATOR,
    AdminLevel.SMS_MANAGER,
    AdminLevel.POS_MANAGER,
    AdminLevel.OPERATOR,
)


async def test_five_failures_lock_the_account_for_fifteen_minutes(admin: Admin) -> None:
    """Failures 1-5 are 401; then even the right password is 423 until 15 min have passed."""
    await admin.user("amina", OPERATOR)
    wrong = {"username": "amina", "password": "not the password"}
    for _ in range(5):
        status, body = await admin.call("POST", "/login", json=wrong)
        assert status == 401
        assert body["type"] == "https://vendgate.dev/problems/login-failed"
    right = {"username": "amina", "password": PASSWORD}
    status, body = await admin.call("POST", "/login", json=right)
    assert (status, body["type"]) == (423, "https://vendgate.dev/problems/account-locked")
    admin.clock.advance(minutes=14, seconds=59)
    assert (await admin.call("POST", "/login", json=right))[0] == 423
    admin.clock.advance(seconds=1)  # 15 minutes after the fifth failure
    status, body = await admin.call("POST", "/login", json=right)
    assert status == 200
    assert body["user"]["username"] == "amina"
    assert "password" not in str(body["user"])


async def test_a_success_resets_the_failure_count(admin: Admin) -> None:
    """Four failures, a success, four failures: never locked (the count restarts)."""
    await admin.user("kwame", OPERATOR)
    wrong = {"username": "kwame", "password": "not the password"}
    for _ in range(4):
        assert (await admin.call("POST", "/login", json=wrong))[0] == 401
    await admin.login("kwame")
    for _ in range(4):
        assert (await admin.call("POST", "/login", json=wrong))[0] == 401
    await admin.login("kwame")


async def test_unknown_user_and_wrong_password_look_the_same(admin: Admin) -> None:
    """Login does not reveal whether the username exists."""
    await admin.user("fatima", OPERATOR)
    unknown = await admin.call("POST", "/login", json={"username": "nobody", "password": "x"})
    wrong = await admin.call("POST", "/login", json={"username": "fatima", "password": "x"})
    assert unknown == wrong
    assert unknown[0] == 401


async def test_a_token_expires_after_eight_hours_and_logout_ends_it(admin: Admin) -> None:
    """8 h - 1 s after login the token works; at 8 h it is 401. Logout ends a token at once."""
    token = await admin.token(OPERATOR)
    admin.clock.advance(hours=8, seconds=-1)
    assert (await admin.call("GET", "/me", token))[0] == 200
    admin.clock.advance(seconds=1)
    assert (await admin.call("GET", "/me", token))[0] == 401
    fresh = await admin.login("operator")
    assert (await admin.call("POST", "/logout", fresh))[0] == 204
    assert (await admin.call("GET", "/me", fresh))[0] == 401


async def test_a_user_creates_only_lower_levels_administrators_any(admin: Admin) -> None:
    """pos_manager: operator yes, pos/sms manager and administrator no; administrator: any."""
    pos = await admin.token(POS)

    def body(name: str, level: str) -> dict[str, object]:
        return {"username": name, "password": PASSWORD, "level": level}

    for level in ("pos_manager", "sms_manager", "administrator"):
        status, problem = await admin.call("POST", "/users", pos, json=body(f"x-{level}", level))
        assert (status, problem["type"]) == (403, "https://vendgate.dev/problems/level-refused")
    status, created = await admin.call("POST", "/users", pos, json=body("op2", "operator"))
    assert status == 201
    assert created["level"] == "operator"
    root = await admin.token(ADMIN)
    status, created = await admin.call("POST", "/users", root, json=body("root2", "administrator"))
    assert (status, created["level"]) == (201, "administrator")
    status, _ = await admin.call("POST", "/users", root, json=body("root2", "operator"))
    assert status == 409  # username taken


async def test_disable_follows_the_level_rule_and_stops_the_users_tokens(admin: Admin) -> None:
    """A pos_manager may not disable an sms_manager; an administrator may, and its token dies."""
    sms_token = await admin.token(SMS)
    async with admin.core.uow() as uow:
        sms_user = await uow.admin.get_user_by_name("sms_manager")
    assert sms_user is not None
    path = f"/users/{sms_user.id}/disable"
    assert (await admin.call("POST", path, await admin.token(POS)))[0] == 403
    status, body = await admin.call("POST", path, await admin.token(ADMIN))
    assert (status, body["status"]) == (200, "disabled")
    assert (await admin.call("GET", "/me", sms_token))[0] == 401
    wrong = {"username": "sms_manager", "password": PASSWORD}
    assert (await admin.call("POST", "/login", json=wrong))[0] == 401


async def test_an_ip_allow_list_binds_the_user_to_addresses(admin: Admin) -> None:
    """A user allowed only 10.9.0.0/16 cannot log in from 127.0.0.1 (the test client)."""
    root = await admin.token(ADMIN)
    body = {"username": "bound", "password": PASSWORD, "level": "operator"}
    status, _ = await admin.call(
        "POST", "/users", root, json={**body, "allowed_ips": ["10.9.0.0/16"]}
    )
    assert status == 201
    login = {"username": "bound", "password": PASSWORD}
    assert (await admin.call("POST", "/login", json=login))[0] == 401
    body = {"username": "local", "password": PASSWORD, "level": "operator"}
    status, _ = await admin.call(
        "POST", "/users", root, json={**body, "allowed_ips": ["127.0.0.1"]}
    )
    assert status == 201
    await admin.login("local")


async def test_an_api_key_authenticates_a_machine_client_and_is_stored_hashed(
    admin: Admin,
) -> None:
    """The key works as a bearer; the database holds only its SHA-256, never the key."""
    status, body = await admin.call(
        "POST", "/api-keys", await admin.token(ADMIN), json={"name": "erp"}
    )
    assert status == 201
    key = body["key"]
    status, me = await admin.call("GET", "/me", key)
    assert (status, me["level"]) == (200, "administrator")
    async with admin.core.uow() as uow:
        assert await uow.admin.get_session(key) is None
        entries = await uow.admin.list_audit(AuditFilter(action="api_key.create"))
    assert len(entries) == 1
    assert key not in str(entries[0])


def test_password_hash_is_salted_scrypt_and_verifies() -> None:
    """Two hashes of one password differ (salt); each verifies; a wrong password does not."""
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert first.startswith("scrypt$16384$8$1$")
    assert verify_password(PASSWORD, first)
    assert verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "!", first)
