"""``[dashboard]`` settings: sign-in and what may be entered in the dashboard.

``[dashboard.oidc]`` adds single sign-on through Streamlit's ``st.login`` (OpenID Connect).
Who may use it is decided here, from the identity's e-mail address: listed addresses get
their role, addresses at an allowed domain get ``default_role``, everyone else is refused.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Role = Literal["viewer", "agent", "admin"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _secret(value: object) -> object:
    """Only ``$env``/``$file`` values; an unset variable is an error (sign-in cannot work)."""
    from kuulo.settings import MissingSecret  # late: settings imports this module

    if isinstance(value, MissingSecret):
        raise ValueError(f"the environment variable {value.variable} is not set")
    if isinstance(value, str):
        raise ValueError('write secrets as { "$env" = "VARIABLE" } or { "$file" = "path" }')
    return value


def _https_url(value: str, what: str) -> str:
    """An https URL; plain http only on a loopback host (a local identity provider)."""
    parts = urlsplit(value)
    local = parts.scheme == "http" and parts.hostname in _LOOPBACK
    if not parts.hostname or (parts.scheme != "https" and not local):
        raise ValueError(f"{what} must be an https:// URL (http:// only on 127.0.0.1/localhost)")
    return value


class OidcSettings(BaseModel):
    """``[dashboard.oidc]``: "Sign in with <provider_name>" beside the local sign-in form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider_name: str = Field(
        "single sign-on", min_length=1, max_length=60, description='button: "Sign in with ..."'
    )
    server_metadata_url: str = Field(
        description="the provider's /.well-known/openid-configuration URL"
    )
    client_id: str = Field(min_length=1, description="the client id registered at the provider")
    client_secret: SecretStr = Field(description='secret: { "$env" = "KUULO_OIDC_SECRET" }')
    cookie_secret: SecretStr = Field(description="secret signing the sign-in cookie (32+ chars)")
    redirect_uri: str = Field(
        description="the dashboard's public URL + /oauth2callback, registered at the provider"
    )
    admins: tuple[str, ...] = Field((), description="e-mail addresses with the admin role")
    agents: tuple[str, ...] = Field((), description="e-mail addresses with the agent role")
    viewers: tuple[str, ...] = Field((), description="e-mail addresses with the viewer role")
    allowed_domains: tuple[str, ...] = Field(
        (), description="any verified address at these domains gets default_role"
    )
    default_role: Role = Field("viewer", description="role of an allowed_domains address")

    @field_validator("client_secret", "cookie_secret", mode="before")
    @classmethod
    def _indirect(cls, value: object) -> object:
        return _secret(value)

    @field_validator("cookie_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("server_metadata_url")
    @classmethod
    def _metadata_url(cls, value: str) -> str:
        return _https_url(value, "server_metadata_url")

    @field_validator("redirect_uri")
    @classmethod
    def _redirect(cls, value: str) -> str:
        if not value.endswith("/oauth2callback"):
            raise ValueError("must end with /oauth2callback (Streamlit's sign-in callback)")
        return _https_url(value, "redirect_uri")

    @field_validator("admins", "agents", "viewers", mode="after")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        emails = tuple(v.strip().lower() for v in value)
        bad = [e for e in emails if not _EMAIL.match(e)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(bad)}")
        return emails

    @field_validator("allowed_domains", mode="after")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        domains = tuple(v.strip().lower().lstrip("@") for v in value)
        bad = [d for d in domains if not _DOMAIN.match(d)]
        if bad:
            raise ValueError(f"not a domain name: {', '.join(bad)}")
        return domains

    @model_validator(mode="after")
    def _someone_may_sign_in(self) -> OidcSettings:
        if not (self.admins or self.agents or self.viewers or self.allowed_domains):
            raise ValueError(
                "nobody could sign in: list e-mail addresses in admins/agents/viewers "
                "or domains in allowed_domains"
            )
        return self

    def role_for(self, identity: dict[str, Any]) -> Role | None:
        """The role of a signed-in identity (``st.user``'s claims), or None: refused.

        Needs an ``email`` claim that the provider has not marked unverified; a listed
        address wins over its domain, and the highest listed role wins.
        """
        email = identity.get("email")
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            return None
        if identity.get("email_verified") is False or identity.get("email_verified") == "false":
            return None
        email = email.strip().lower()
        if email in self.admins:
            return "admin"
        if email in self.agents:
            return "agent"
        if email in self.viewers:
            return "viewer"
        if email.rpartition("@")[2] in self.allowed_domains:
            return self.default_role
        return None


class DashboardSettings(BaseModel):
    """``[dashboard]``: who may use the dashboard (users: ``kuulo users``) and what it accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    require_sign_in: Literal["auto", "always"] = Field(
        "auto", description='"auto": unless dashboard_host is loopback; "always": everywhere'
    )
    allow_private_feed_hosts: bool = Field(
        False,
        description="let feed URLs entered in the dashboard reach loopback/private addresses",
    )
    export_max_rows: int = Field(
        200_000,
        ge=1,
        description="largest download on the Export page; more: `kuulo export` on the server",
    )
    oidc: OidcSettings | None = Field(None, description="[dashboard.oidc]: single sign-on")


STREAMLIT_PROVIDER = "kuulo"
"""The ``[auth.<name>]`` section ``kuulo dashboard`` writes for Streamlit; ``st.login(name)``."""


def _toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's; DEL must be escaped too)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def streamlit_secrets(oidc: OidcSettings) -> str:
    """Streamlit's ``secrets.toml`` text for ``st.login``: secrets in clear, so never log it."""
    lines = {
        "auth": {
            "redirect_uri": oidc.redirect_uri,
            "cookie_secret": oidc.cookie_secret.get_secret_value(),
        },
        f"auth.{STREAMLIT_PROVIDER}": {
            "client_id": oidc.client_id,
            "client_secret": oidc.client_secret.get_secret_value(),
            "server_metadata_url": oidc.server_metadata_url,
        },
    }
    text = []
    for table, keys in lines.items():
        text.append(f"[{table}]")
        text += [f"{key} = {_toml_string(value)}" for key, value in keys.items()]
        text.append("")
    return "\n".join(text)


@contextmanager
def streamlit_secrets_file(oidc: OidcSettings | None) -> Iterator[Path | None]:
    """The secrets in a private file (0600, in a 0700 directory) while the dashboard runs."""
    if oidc is None:
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="kuulo-dashboard-"))
    path = directory / "secrets.toml"
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as fh:
            fh.write(streamlit_secrets(oidc))
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
