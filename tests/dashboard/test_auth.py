"""Who may use the dashboard: every route refuses anyone who is not an authenticated operator,
the local login checks the password and sets a well-protected cookie, and the dashboard will not
start without a way to authenticate."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.config import ConfigError
from shared.dashboard.auth import guard
from shared.dashboard.auth.session import SECURE_COOKIE, PasswordSessions
from shared.dashboard.auth.throttle import FREE_ATTEMPTS
from tests.support.dashboard import PASSWORD, SESSION_SECRET, Operator, csrf_from, inner_app
from tests.support.seed import store_inbound

SAMPLE_ARGUMENTS = {
    "conversation_id": "100000000000001_15550001111",
    "message_id": "wamid.sample",
    "variant": "original",
    "entry_id": "abc",
    "filename": "css/dashboard.css",
    "document_id": "doc123",
    "phone_number_id": "100000000000001",
}


def every_route() -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every route the dashboard app has, found from its URL map."""
    app = inner_app()
    adapter = app.url_map.bind("localhost")
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            url = adapter.build(
                rule.endpoint, {a: SAMPLE_ARGUMENTS[a] for a in rule.arguments}, method=method
            )
            routes.append((rule.endpoint, method, url))
    return routes


def test_every_route_but_health_login_and_assets_refuses_a_request_without_an_operator(app) -> None:
    client = app.test_client()
    routes = every_route()
    assert len(routes) >= 15, routes
    assert {endpoint for endpoint, _, _ in routes} >= guard.PUBLIC
    for endpoint, method, url in routes:
        if endpoint in guard.PUBLIC:
            continue
        response = client.open(url, method=method, headers={"Accept": "text/html"})
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), (method, url)
        else:
            assert response.status_code == 401, (method, url, response.status_code)
        assert "no-store" in response.headers["Cache-Control"]


def test_unknown_urls_are_refused_before_saying_whether_they_exist(app) -> None:
    response = app.test_client().get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 401


def test_health_answers_without_authentication_and_reveals_nothing(app) -> None:
    for path in ("/healthz", "/health"):
        response = app.test_client().get(path)
        assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")
        assert "Server" not in response.headers or "dashboard" not in response.headers["Server"].lower()


def test_a_page_without_a_session_redirects_to_the_login_form_and_back(app) -> None:
    client = app.test_client()
    response = client.get("/conversations?filter=paused", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/conversations?filter%3Dpaused"


def test_the_right_password_opens_the_dashboard(app, firestore_db) -> None:
    store_inbound(firestore_db, wa_id="15550001111", name="Kerry")
    operator = Operator(app.test_client())
    response = operator.login(next="/conversations")
    assert (response.status_code, response.headers["Location"]) == (302, "/conversations")
    page = operator.get("/conversations")
    assert page.status_code == 200
    assert "Kerry" in page.get_data(as_text=True)


def test_a_wrong_password_is_refused_and_opens_no_session(app) -> None:
    operator = Operator(app.test_client())
    response = operator.login(password="wrong")
    assert response.status_code == 401
    assert "Wrong password" in response.get_data(as_text=True)
    assert operator.client.get_cookie("dashboard_session") is None
    assert operator.get("/", headers={"Accept": "application/json"}).status_code == 401


def test_login_redirects_only_to_pages_of_the_dashboard(app) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = Operator(app.test_client()).login(next=target)
        assert response.headers["Location"] == "/", target


def test_repeated_wrong_passwords_are_slowed_down_even_for_the_right_one(app) -> None:
    operator = Operator(app.test_client())
    statuses = [operator.login(password=f"guess-{i}").status_code for i in range(6)]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    refused = operator.login()  # the right password must wait too, or the limit would be an oracle
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1


def test_parallel_wrong_passwords_from_one_address_are_not_all_checked(app, monkeypatch) -> None:
    checked: list[str] = []
    check = PasswordSessions.check_password

    def slow_check(self: PasswordSessions, given: str) -> bool:
        checked.append(given)
        time.sleep(0.2)  # as long as a real password hash takes: the window a burst would use
        return check(self, given)

    monkeypatch.setattr(PasswordSessions, "check_password", slow_check)
    clients = [app.test_client() for _ in range(20)]
    tokens = [csrf_from(client.get("/login").get_data(as_text=True)) for client in clients]
    start = threading.Barrier(len(clients))

    def guess(i: int) -> int:
        start.wait()
        data = {"password": f"guess-{i}", "csrf_token": tokens[i]}
        return clients[i].post("/login", data=data).status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = list(pool.map(guess, range(len(clients))))
    assert sorted(statuses) == [401] * FREE_ATTEMPTS + [429] * (len(clients) - FREE_ATTEMPTS)
    assert len(checked) == FREE_ATTEMPTS


def test_a_guesser_at_another_address_cannot_lock_the_operator_out(app) -> None:
    def browser_at(address: str) -> Operator:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return Operator(client)

    guesser = browser_at("203.0.113.7")
    statuses = [guesser.login(password=f"guess-{i}").status_code for i in range(3 * FREE_ATTEMPTS)]
    assert statuses[-1] == 429
    # Spread over many addresses, guesses slow down each address, not the dashboard as a whole.
    for i in range(60):
        assert browser_at(f"198.51.100.{i}").login(password="guess").status_code == 401
    assert browser_at("192.0.2.10").login().status_code == 302


def test_the_session_cookie_is_http_only_same_site_and_signed(operator) -> None:
    cookie = operator.client.get_cookie("dashboard_session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert PASSWORD not in cookie.value and SESSION_SECRET not in cookie.value


def test_over_https_the_cookies_are_secure_host_only_and_hsts_is_sent(app) -> None:
    client = app.test_client()
    https = {"base_url": "https://dashboard.example"}
    login_page = client.get("/login", **https)
    assert "max-age=" in login_page.headers["Strict-Transport-Security"]
    token = client.get_cookie("__Host-dashboard_csrf", domain="dashboard.example")
    assert token is not None and token.secure
    response = client.post(
        "/login", data={"password": PASSWORD, "csrf_token": token.value, "next": "/"}, **https
    )
    assert response.status_code == 302
    session = client.get_cookie(SECURE_COOKIE, domain="dashboard.example")
    assert session is not None and session.secure and session.http_only
    assert client.get("/", **https).status_code == 200


def test_behind_a_proxy_the_forwarded_scheme_makes_cookies_secure(app) -> None:
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert any("Secure" in c and "__Host-" in c for c in response.headers.getlist("Set-Cookie"))


def test_a_cookie_signed_with_another_secret_is_refused(make_app) -> None:
    first = Operator(make_app().test_client())
    first.login()
    stolen = first.client.get_cookie("dashboard_session").value
    other = make_app(DASHBOARD_SESSION_SECRET="another-secret-of-enough-length-42").test_client()
    other.set_cookie("dashboard_session", stolen)
    assert other.get("/", headers={"Accept": "application/json"}).status_code == 401


def test_changing_the_password_ends_every_session(make_app) -> None:
    first = Operator(make_app().test_client())
    first.login()
    cookie = first.client.get_cookie("dashboard_session").value
    later = make_app(DASHBOARD_PASSWORD="a brand new password").test_client()
    later.set_cookie("dashboard_session", cookie)
    assert later.get("/", headers={"Accept": "application/json"}).status_code == 401


def test_signing_out_ends_the_session(operator) -> None:
    response = operator.post("/logout")
    assert response.status_code == 302
    assert operator.get("/", headers={"Accept": "application/json"}).status_code == 401


@pytest.mark.parametrize(
    "env",
    [
        {"DASHBOARD_PASSWORD": None, "DASHBOARD_SESSION_SECRET": None},
        {"DASHBOARD_SESSION_SECRET": None},
        {"DASHBOARD_PASSWORD": None},
        {"DASHBOARD_SESSION_SECRET": "short"},
        {"DASHBOARD_PASSWORD": None, "IAP_AUDIENCE": "/projects/1/global/backendServices/2"},
    ],
    ids=[
        "nothing",
        "password-without-secret",
        "secret-without-password",
        "weak-secret",
        "iap-without-operators",
    ],
)
def test_the_dashboard_refuses_to_start_without_a_way_to_authenticate(make_app, env) -> None:
    with pytest.raises(ConfigError):
        make_app(**env)


def test_no_page_ever_shows_the_password_or_the_session_secret(operator, firestore_db) -> None:
    conv, _ = store_inbound(firestore_db, wa_id="15550001111", name="Kerry")
    for url in (
        "/",
        "/conversations",
        f"/conversations/{conv}",
        "/quarantine",
        f"/conversations/{conv}/live",
    ):
        body = operator.get(url).get_data(as_text=True)
        assert PASSWORD not in body and SESSION_SECRET not in body, url
