"""``[dashboard]`` settings: the export limit and ``[dashboard.oidc]`` (single sign-on).

Covers validation (clear errors, secrets only through ``$env``/``$file`` and never echoed),
the e-mail/domain -> role mapping, and the private ``secrets.toml`` handed to Streamlit.
"""

from __future__ import annotations

import logging
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kuulo.errors import ConfigError, KuuloError
from kuulo.service import dashboard_command
from kuulo.settings import Settings, load_settings
from kuulo.settings_dashboard import (
    STREAMLIT_PROVIDER,
    OidcSettings,
    streamlit_secrets,
    streamlit_secrets_file,
)

CLIENT_SECRET = 'client-secret-Zq8!"\\ünïcode\x7f'
COOKIE_SECRET = "cookie-secret-0123456789abcdef0123456789"
ENV = {"KUULO_OIDC_CLIENT_SECRET": CLIENT_SECRET, "KUULO_OIDC_COOKIE_SECRET": COOKIE_SECRET}
OIDC = """
[dashboard.oidc]
provider_name = "Example SSO"
server_metadata_url = "https://login.example.com/.well-known/openid-configuration"
client_id = "kuulo-dashboard"
client_secret = { "$env" = "KUULO_OIDC_CLIENT_SECRET" }
cookie_secret = { "$env" = "KUULO_OIDC_COOKIE_SECRET" }
redirect_uri = "https://kuulo.example.com/oauth2callback"
admins = ["Alice@Example.com"]
agents = ["bob@example.com"]
viewers = ["carol@partner.example.org"]
allowed_domains = ["example.com"]
"""


def load(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "kuulo.toml"
    path.write_text(f'[kuulo]\ndatabase = "{tmp_path / "k.db"}"\n{body}', encoding="utf-8")
    return load_settings(path, ENV if env is None else env)


def oidc(tmp_path: Path, body: str = OIDC) -> OidcSettings:
    config = load(tmp_path, body).dashboard.oidc
    assert config is not None
    return config


def problem(tmp_path: Path, body: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, body, env)
    return str(caught.value)


def test_no_oidc_table_means_no_single_sign_on_and_the_export_limit_default(tmp_path):
    settings = load(tmp_path, "")
    assert settings.dashboard.oidc is None
    assert settings.dashboard.export_max_rows == 200_000
    assert load(tmp_path, "[dashboard]\nexport_max_rows = 50\n").dashboard.export_max_rows == 50
    assert "export_max_rows" in problem(tmp_path, "[dashboard]\nexport_max_rows = 0\n")


def test_a_complete_table_loads_with_its_secrets_masked(tmp_path):
    config = oidc(tmp_path)
    assert config.client_secret.get_secret_value() == CLIENT_SECRET
    assert config.cookie_secret.get_secret_value() == COOKIE_SECRET
    assert config.admins == ("alice@example.com",)  # addresses compare lower-case
    assert CLIENT_SECRET not in repr(config)
    assert COOKIE_SECRET not in repr(load(tmp_path, OIDC))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ('client_id = "kuulo-dashboard"\n', "client_id': required key is missing"),
        (
            'client_secret = { "$env" = "KUULO_OIDC_CLIENT_SECRET" }\n',
            "client_secret': required key is missing",
        ),
        ('redirect_uri = "https://kuulo.example.com/oauth2callback"\n', "redirect_uri"),
    ],
)
def test_a_missing_key_is_named(tmp_path, change, expected):
    assert expected in problem(tmp_path, OIDC.replace(change, ""))


def test_an_unset_secret_variable_is_named_not_silently_ignored(tmp_path):
    message = problem(tmp_path, OIDC, {"KUULO_OIDC_COOKIE_SECRET": COOKIE_SECRET})
    assert "client_secret': the environment variable KUULO_OIDC_CLIENT_SECRET is not set" in (
        message
    )


def test_a_secret_written_inline_is_refused_and_not_echoed(tmp_path):
    body = OIDC.replace('{ "$env" = "KUULO_OIDC_CLIENT_SECRET" }', '"inline-s3cret-value"')
    message = problem(tmp_path, body)
    assert 'write secrets as { "$env" = "VARIABLE" }' in message
    assert "inline-s3cret-value" not in message


def test_a_secret_may_come_from_a_file(tmp_path):
    (tmp_path / "cookie").write_text(COOKIE_SECRET + "\n", encoding="utf-8")
    body = OIDC.replace('{ "$env" = "KUULO_OIDC_COOKIE_SECRET" }', '{ "$file" = "cookie" }')
    config = oidc(tmp_path, body)
    assert config.cookie_secret.get_secret_value() == COOKIE_SECRET


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "https://kuulo.example.com/oauth2callback",
            "https://kuulo.example.com/",
            "oauth2callback",
        ),
        ("https://login.example.com", "http://login.example.com", "must be an https:// URL"),
        ('admins = ["Alice@Example.com"]', 'admins = ["alice"]', "not an e-mail address: alice"),
        ('allowed_domains = ["example.com"]', 'allowed_domains = ["*"]', "not a domain name"),
        (
            "[dashboard.oidc]",
            "[dashboard.oidc]\nroles = 1",
            "[dashboard.oidc], key 'roles': unknown key",
        ),
        ('agents = ["bob@example.com"]', 'default_role = "owner"', "default_role"),
    ],
)
def test_bad_values_get_a_clear_error(tmp_path, old, new, expected):
    assert expected in problem(tmp_path, OIDC.replace(old, new))


def test_a_short_cookie_secret_is_refused(tmp_path):
    message = problem(tmp_path, OIDC, {**ENV, "KUULO_OIDC_COOKIE_SECRET": "short"})
    assert "at least 32 characters" in message
    assert "short'" not in message


def test_a_table_that_lets_nobody_in_is_refused(tmp_path):
    body = "\n".join(
        line
        for line in OIDC.splitlines()
        if not line.startswith(("admins", "agents", "viewers", "allowed"))
    )
    assert "nobody could sign in" in problem(tmp_path, body)


def test_http_is_allowed_for_a_loopback_identity_provider(tmp_path):
    body = OIDC.replace("https://login.example.com", "http://127.0.0.1:9999").replace(
        "https://kuulo.example.com", "http://localhost:8501"
    )
    assert oidc(tmp_path, body).server_metadata_url.startswith("http://127.0.0.1:9999/")


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"email": "alice@example.com"}, "admin"),
        ({"email": "ALICE@example.com", "email_verified": True}, "admin"),
        ({"email": "bob@example.com"}, "agent"),
        ({"email": "carol@partner.example.org"}, "viewer"),  # listed, outside the domains
        ({"email": "dave@example.com"}, "viewer"),  # the domain's default_role
        ({"email": "dave@partner.example.org"}, None),  # neither listed nor an allowed domain
        ({"email": "eve@sub.example.com"}, None),  # a subdomain is another domain
        ({"email": "eve@example.com.evil.org"}, None),
        ({"email": "alice@example.com", "email_verified": False}, None),  # unverified address
        ({"email": "dave@example.com", "email_verified": "false"}, None),
        ({"name": "No Mail", "sub": "123"}, None),  # no e-mail claim: cannot be mapped
        ({"email": ["alice@example.com"]}, None),
        ({"email": "not an address"}, None),
    ],
)
def test_identities_map_to_roles_or_are_refused(
    tmp_path: Path, claims: dict[str, Any], role: str | None
) -> None:
    assert oidc(tmp_path).role_for(claims) == role


def test_the_domain_default_role_can_be_raised(tmp_path):
    config = oidc(tmp_path, OIDC + 'default_role = "agent"\n')
    assert config.role_for({"email": "dave@example.com"}) == "agent"
    assert config.role_for({"email": "carol@partner.example.org"}) == "viewer"


def test_streamlit_secrets_round_trip_through_toml(tmp_path):
    auth = tomllib.loads(streamlit_secrets(oidc(tmp_path)))["auth"]
    assert auth.pop(STREAMLIT_PROVIDER) == {
        "client_id": "kuulo-dashboard",
        "client_secret": CLIENT_SECRET,  # quotes, backslash, DEL and non-ASCII survive
        "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
    }
    assert auth == {
        "redirect_uri": "https://kuulo.example.com/oauth2callback",
        "cookie_secret": COOKIE_SECRET,
    }


def test_the_secrets_file_is_private_and_removed_afterwards(tmp_path, caplog):
    config = oidc(tmp_path)
    caplog.set_level(logging.DEBUG)
    with streamlit_secrets_file(config) as path:
        assert path is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert tomllib.loads(path.read_text(encoding="utf-8"))["auth"]["cookie_secret"] == (
            COOKIE_SECRET
        )
        command = dashboard_command(load(tmp_path, OIDC), secrets=path)
    assert not path.exists()
    assert not path.parent.exists()
    assert command[command.index("--secrets.files") + 1] == str(path)
    joined = " ".join(command)
    assert CLIENT_SECRET not in joined
    assert COOKIE_SECRET not in joined
    assert CLIENT_SECRET not in caplog.text
    assert COOKIE_SECRET not in caplog.text


def test_without_oidc_no_secrets_file_and_no_flag(tmp_path):
    with streamlit_secrets_file(None) as path:
        assert path is None
    assert "--secrets.files" not in dashboard_command(load(tmp_path, ""))


def test_the_file_is_removed_when_the_dashboard_fails(tmp_path):
    config = oidc(tmp_path)
    seen: list[Path | None] = []

    def dashboard_that_fails() -> None:
        with streamlit_secrets_file(config) as path:
            seen.append(path)
            raise RuntimeError("the dashboard could not start")

    with pytest.raises(RuntimeError):
        dashboard_that_fails()
    assert seen[0] is not None
    assert not seen[0].exists()


def test_single_sign_on_without_authlib_stops_with_the_install_command(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "authlib" else real(name, *a)
    )
    settings = load(tmp_path, OIDC)
    expected = r"needs authlib .*pip install 'kuulo\[oidc\]'"
    with (
        streamlit_secrets_file(settings.dashboard.oidc) as path,
        pytest.raises(KuuloError, match=expected),
    ):
        dashboard_command(settings, secrets=path)
