"""Single sign-on through AppTest: ``AppTest.user`` stands in for Streamlit's ``st.user``.

The dashboard listens on a non-loopback address (sign-in required) with ``[dashboard.oidc]``;
the identity's e-mail decides its role on the server, on every page and every action.
"""

from __future__ import annotations

import re
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from kuulo.model import Mention
from kuulo.normalise import Prepared, content_hash
from kuulo.store import SqliteStore, open_store
from kuulo.store import users as users_module
from tests.dashboard.serve import free_port, serve_dashboard

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")
NOW = datetime.now(UTC)
ANYWHERE = "0.0.0.0"  # noqa: S104  (only written to the config; nothing binds here)
OIDC = """[dashboard.oidc]
provider_name = "Example SSO"
server_metadata_url = "https://login.example.com/.well-known/openid-configuration"
client_id = "kuulo"
client_secret = { "$env" = "KUULO_TEST_OIDC_SECRET" }
cookie_secret = { "$env" = "KUULO_TEST_OIDC_COOKIE" }
redirect_uri = "https://kuulo.example.com/oauth2callback"
admins = ["alice@example.com"]
agents = ["bob@example.com"]
allowed_domains = ["example.com"]

"""


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users_module, "hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    monkeypatch.setenv("KUULO_TEST_OIDC_SECRET", "client secret")
    monkeypatch.setenv("KUULO_TEST_OIDC_COOKIE", "c" * 40)


def mention(i: int) -> Prepared:
    text = f"mention {i} about acme"
    m = Mention("rss", "news", str(i), f"https://news.example/{i}", text,
                author_handle="ann", published_at=NOW - timedelta(hours=i))  # fmt: skip
    return Prepared(m, None, text, "en", content_hash(None, text, m.url), ("Acme",))


def make_config(tmp_path: Path, *, oidc: bool = True, local_user: bool = True) -> Path:
    database = tmp_path / "kuulo.db"
    with open_store(database) as store:
        store.sync_sources([("news", "rss")], NOW)
        store.save_batch("news", [mention(i) for i in range(3)], None, NOW)
        if local_user:
            store.create_user("ann", "ann password", "agent", NOW)
    path = tmp_path / "kuulo.toml"
    path.write_text(
        f'[kuulo]\ndatabase = "{database}"\ndashboard_host = "{ANYWHERE}"\n\n'
        f'{OIDC if oidc else ""}[[brands]]\nname = "Acme"\nquery = "acme"\n'
    )
    return path


def app(config: Path, monkeypatch: pytest.MonkeyPatch, user: dict[str, Any]) -> AppTest:
    monkeypatch.setattr(sys, "argv", ["app.py", "--config", str(config)])
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=30)
    at.user = user
    at.run()
    assert not at.exception, at.exception
    return at


def signed_in(email: str, **claims: Any) -> dict[str, Any]:
    return {"is_logged_in": True, "email": email, "name": email.split("@")[0], **claims}


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def statuses(config: Path) -> list[tuple[str, str]]:
    with open_store(config.parent / "kuulo.db", read_only=True) as store:
        assert isinstance(store, SqliteStore)
        return store.db.execute("SELECT status, updated_by FROM mention_triage").fetchall()


def select_first(at: AppTest) -> AppTest:
    key = at.dataframe[0].key
    assert key is not None
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    return at.run()


def test_the_sign_in_page_offers_single_sign_on_beside_the_form(tmp_path, monkeypatch):
    at = app(make_config(tmp_path), monkeypatch, {"is_logged_in": False})
    assert "Sign in with Example SSO" in labels(at)
    assert [t.value for t in at.text_input] == ["", ""]  # username, password
    assert len(at.columns) == 2
    assert [t.value for t in at.title] == ["kuulo"]  # not the Inbox


def test_without_local_users_single_sign_on_is_the_way_in(tmp_path, monkeypatch):
    at = app(make_config(tmp_path, local_user=False), monkeypatch, {"is_logged_in": False})
    assert labels(at) == ["Sign in with Example SSO"]
    assert not at.warning  # no "create the first admin" dead end
    assert not at.text_input


def test_a_listed_admin_gets_in_as_admin(tmp_path, monkeypatch):
    at = app(make_config(tmp_path), monkeypatch, signed_in("Alice@Example.com"))
    assert at.title[0].value == "Inbox"
    assert "Signed in as alice@example.com (admin)" in [t.value for t in at.sidebar.text]
    assert "Sign out" in [b.label for b in at.sidebar.button]


def test_an_agent_acts_under_its_e_mail_address(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    at = select_first(app(config, monkeypatch, signed_in("bob@example.com")))
    at.button(key="inbox-replied").click().run()
    assert not at.exception, at.exception
    assert statuses(config) == [("replied", "bob@example.com")]


def test_a_domain_viewer_reads_but_an_action_is_refused_on_the_server(tmp_path, monkeypatch):
    config = make_config(tmp_path)
    at = select_first(app(config, monkeypatch, signed_in("dave@example.com")))
    assert "Signed in as dave@example.com (viewer)" in [t.value for t in at.sidebar.text]
    at.button(key="inbox-replied").click().run()  # pressed anyway
    assert any("Not allowed: this needs the agent role" in e.value for e in at.error)
    assert statuses(config) == []


@pytest.mark.parametrize(
    "user",
    [
        signed_in("mallory@evil.example"),  # not listed, not an allowed domain
        signed_in("alice@example.com", email_verified=False),  # the provider did not verify it
        {"is_logged_in": True, "name": "No Mail", "sub": "42"},  # no e-mail to map
    ],
)
def test_an_identity_the_settings_do_not_name_is_refused_on_every_page(tmp_path, monkeypatch, user):
    at = app(make_config(tmp_path), monkeypatch, user)
    assert any("may not use this dashboard" in e.value for e in at.error)
    assert "Sign out" in labels(at)
    assert not at.dataframe
    page = AppTest.from_file(str(Path(APP).parent / "views" / "overview.py"), default_timeout=30)
    page.user = user  # the page file run on its own, as Streamlit serves /overview by URL
    page.run()
    assert not page.exception, page.exception
    assert [t.value for t in page.title] == ["kuulo"]
    assert any("may not use this dashboard" in e.value for e in page.error)


def test_without_the_oidc_table_a_login_cookie_grants_nothing(tmp_path, monkeypatch):
    at = app(make_config(tmp_path, oidc=False), monkeypatch, signed_in("alice@example.com"))
    assert not at.dataframe
    assert "Sign in with Example SSO" not in labels(at)
    assert [t.value for t in at.title] == ["kuulo"]
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_signing_out_ends_the_single_sign_on_session(tmp_path, monkeypatch):
    at = app(make_config(tmp_path), monkeypatch, signed_in("alice@example.com"))
    at.sidebar.button(key="sign-out").click().run()
    assert not at.exception, at.exception
    assert at.user == {"is_logged_in": False}
    at.run()  # the browser comes back from /auth/logout
    assert "Sign in with Example SSO" in labels(at)
    assert not at.dataframe


def test_a_local_sign_in_still_works_beside_single_sign_on(tmp_path, monkeypatch):
    at = app(make_config(tmp_path), monkeypatch, {"is_logged_in": False})
    at.text_input(key="sign-in-username").input("ann")
    at.text_input(key="sign-in-password").input("ann password")
    at.button(key="FormSubmitter:sign-in-Sign in").click().run()
    assert not at.exception, at.exception
    assert "Signed in as **ann** (agent)" in [c.value for c in at.sidebar.caption]


class LoopbackProvider:
    """A tiny OpenID Connect provider on pytest-httpserver: discovery, authorize, token, JWKS.

    ``/authorize`` signs in whoever ``identity`` names at once (no login form) and sends the
    browser back with a code; ``/token`` answers with an RS256 ID token carrying the nonce.
    """

    def __init__(self, server: Any, client_id: str) -> None:
        from joserfc.jwk import RSAKey

        self.server = server
        self.client_id = client_id
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
        self.identity: dict[str, Any] = {}
        self.nonces: dict[str, str] = {}
        self.issuer = server.url_for("").rstrip("/")
        server.expect_request("/.well-known/openid-configuration").respond_with_json(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )
        server.expect_request("/jwks").respond_with_json(
            {"keys": [self.key.as_dict(private=False)]}
        )
        server.expect_request("/authorize").respond_with_handler(self.authorize)
        server.expect_request("/token", method="POST").respond_with_handler(self.token)

    def authorize(self, request: Any) -> Any:
        from urllib.parse import urlencode

        from werkzeug import Response

        args = request.args
        assert args["client_id"] == self.client_id
        code = f"code-{len(self.nonces)}"
        self.nonces[code] = args["nonce"]
        target = f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}"
        return Response(status=302, headers={"Location": target})

    def token(self, request: Any) -> Any:
        import json
        import time

        from joserfc import jwt
        from werkzeug import Response

        code = request.form["code"]
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "sub": self.identity["email"],
                  "iat": now, "exp": now + 300, "nonce": self.nonces.pop(code),
                  **self.identity}  # fmt: skip
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        body = {"access_token": "at", "token_type": "Bearer", "expires_in": 300,
                "id_token": id_token}  # fmt: skip
        return Response(json.dumps(body), content_type="application/json")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_a_real_sign_in_round_trip_through_a_loopback_provider(tmp_path, httpserver):
    """`kuulo dashboard` hands Streamlit the secrets; Chromium signs in through st.login."""
    pytest.importorskip("authlib")
    pytest.importorskip("httpx")
    from playwright.sync_api import Page, sync_playwright

    provider = LoopbackProvider(httpserver, "kuulo")
    port = free_port()
    config = make_config(tmp_path)
    config.write_text(
        config.read_text()
        .replace(f'dashboard_host = "{ANYWHERE}"', 'dashboard_host = "127.0.0.1"')
        .replace("[dashboard.oidc]", '[dashboard]\nrequire_sign_in = "always"\n\n[dashboard.oidc]')
        .replace("https://login.example.com", provider.issuer)
        .replace("https://kuulo.example.com", f"http://127.0.0.1:{port}")
    )
    with serve_dashboard(config, port) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox"]
        )

        links: list[str] = []

        def sign_in_as(email: str) -> tuple[str, Page]:
            provider.identity = {"email": email, "email_verified": True, "name": email}
            page = browser.new_context().new_page()
            page.goto(url)
            page.get_by_role("button", name="Sign in with Example SSO").click(timeout=60_000)
            page.wait_for_url(f"{url}/**", timeout=60_000)
            # the inbox's heading (admin) or the refusal (stranger): the page has rendered
            page.get_by_text(re.compile("Newest mentions|may not use")).first.wait_for(
                timeout=60_000
            )
            page.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
            page.screenshot(path=str(tmp_path / f"{email}.png"), full_page=True)
            links.extend(page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"))
            return page.inner_text("body"), page

        admin, page = sign_in_as("alice@example.com")
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="Sign in with Example SSO").wait_for(timeout=60_000)
        page.reload()  # the identity cookie is gone, not just this tab's session
        page.get_by_role("button", name="Sign in with Example SSO").wait_for(timeout=60_000)
        signed_out = page.inner_text("body")
        stranger, _ = sign_in_as("mallory@evil.example")
        browser.close()
    assert "Signed in as alice@example.com (admin)" in admin
    assert "Newest mentions" in admin
    assert "Newest mentions" not in signed_out
    assert "may not use this dashboard" in stranger
    assert "Newest mentions" not in stranger
    assert "Signed in as: mallory@evil.example" in stranger
    assert provider.nonces == {}  # both codes were exchanged
    assert not [link for link in links if link.startswith("mailto:")]  # names shown as text
