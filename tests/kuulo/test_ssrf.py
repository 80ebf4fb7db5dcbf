"""The SSRF guard on feed URLs entered in the dashboard: at save time and on every connection.

Loopback-only networking: the collect-time tests use pytest-httpserver on 127.0.0.1. To test
that a *redirect* is re-checked, the first hop must be allowed and the second refused; the
guarded session's ``allow_loopback`` (requests-hardened's only exception) lets it reach the test
server on 127.0.0.1, while the redirect goes to 0.0.0.0 (this same machine, not "loopback" by
name: refused), a private or a link-local metadata address.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from kuulo.catalog import check_feed_url, merged_settings
from kuulo.errors import FetchError
from kuulo.http import fetch, make_session
from kuulo.pipeline import Runtime, collect_source
from kuulo.settings import HttpSettings, load_settings
from kuulo.store import SqliteStore, open_store
from tests.support import write_config

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HTTP = HttpSettings(retries=0, backoff_factor=0, connect_timeout=2, read_timeout=5)
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>Initech TPS reports are late again</title><guid isPermaLink="false">tps-1</guid>
<link>https://blog.example/tps-1</link><pubDate>Tue, 24 Nov 2026 08:15:00 +0000</pubDate>
</item></channel></rss>"""


# -- save time -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://127.1.2.3:8080/feed",
        "http://[::1]/feed",
        "http://10.0.0.5/feed",
        "http://192.168.1.1/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://0.0.0.0:8000/",
        "http://[::ffff:127.0.0.1]/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://localhost/feed",
        "http://feeds.localhost/feed",
    ],
)
def test_internal_targets_are_refused(url: str) -> None:
    reason = check_feed_url(url, allow_private=False)
    assert reason is not None
    assert "private or internal address" in reason
    assert check_feed_url(url, allow_private=True) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "Feed addresses must start with http:// or https://."),
        ("ftp://93.184.216.34/feed", "Feed addresses must start with http:// or https://."),
        ("gopher://127.0.0.1:70/", "Feed addresses must start with http:// or https://."),
        ("http:///feed", "The address has no host name"),
        ("https://user:pw@93.184.216.34/feed", "Leave user names and passwords out"),
        ("http://[::1/feed", "This is not a valid web address."),
    ],
)
def test_malformed_or_non_http_urls_are_refused_even_when_private_hosts_are_allowed(
    url: str, reason: str
) -> None:
    for allow in (False, True):
        found = check_feed_url(url, allow_private=allow)
        assert found is not None
        assert found.startswith(reason)


def test_a_hostname_is_resolved_and_its_address_checked() -> None:
    reason = check_feed_url("http://localhost:8080/feed", allow_private=False)
    assert reason is not None
    assert reason.startswith(("localhost (127.0.0.1) is a private", "localhost (::1) is a private"))


def test_a_public_address_passes() -> None:
    assert check_feed_url("https://93.184.216.34/feed.xml", allow_private=False) is None
    assert check_feed_url("http://[2606:2800:220:1::1]/feed", allow_private=False) is None


def test_an_unknown_host_is_reported() -> None:
    reason = check_feed_url("https://no-such-host.invalid/feed", allow_private=False)
    assert reason == "The host 'no-such-host.invalid' could not be found; check the address."


# -- connect time --------------------------------------------------------------------------------


def dashboard_feed(tmp_path: Path, url: str, *, allow_private: bool) -> tuple[Runtime, Path]:
    """Settings with no config sources and one source saved in the database (the dashboard)."""
    body = f"""
[http]
retries = 0
backoff_factor = 0
connect_timeout = 2
read_timeout = 5

[dashboard]
allow_private_feed_hosts = {json.dumps(allow_private)}

[[brands]]
name = "Initech"
query = "Initech"
"""
    settings = load_settings(write_config(tmp_path, body), environ={})
    with open_store(settings.database_path()) as store:
        item = {"name": "initech-blog", "kind": "rss", "url": url, "every": "15m"}
        store.save_catalog_item("source", "initech-blog", item, "ana", NOW)
        merged, problems = merged_settings(settings, store)
    assert problems == []
    return Runtime.from_settings(merged, clock=lambda: NOW), settings.database_path()


def last_error(store: SqliteStore, name: str) -> str:
    row = store.db.execute("SELECT last_error FROM sources WHERE name = ?", [name]).fetchone()
    return str(row[0])


def test_a_dashboard_source_on_loopback_is_refused_without_connecting(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    url = f"http://127.0.0.1:{httpserver.port}/feed.xml?token=s3cr3t"
    rt, db = dashboard_feed(tmp_path, url, allow_private=False)
    with open_store(db) as store:
        assert isinstance(store, SqliteStore)
        store.sync_sources([("initech-blog", "rss")], NOW)
        outcome = collect_source(store, rt, rt.sources["initech-blog"])
        error = last_error(store, "initech-blog")
    assert outcome.status == "error"
    assert error.startswith("refused to connect for http://127.0.0.1:")
    assert "[dashboard] allow_private_feed_hosts" in error
    assert "s3cr3t" not in error
    assert httpserver.log == []  # the check happened before any connection


def test_allow_private_feed_hosts_lets_a_dashboard_source_reach_loopback(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    rt, db = dashboard_feed(tmp_path, httpserver.url_for("/feed.xml"), allow_private=True)
    with open_store(db) as store:
        store.sync_sources([("initech-blog", "rss")], NOW)
        outcome = collect_source(store, rt, rt.sources["initech-blog"])
    assert (outcome.status, outcome.new) == ("ok", 1)


def test_config_file_sources_keep_the_plain_session(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    body = f"""
[[brands]]
name = "Initech"
query = "Initech"

[[sources]]
name = "initech-blog"
kind = "rss"
url = "{httpserver.url_for("/feed.xml")}"
"""
    settings = load_settings(write_config(tmp_path, body), environ={})
    rt = Runtime.from_settings(settings, clock=lambda: NOW)
    with open_store(settings.database_path()) as store:
        store.sync_sources([("initech-blog", "rss")], NOW)
        assert collect_source(store, rt, rt.sources["initech-blog"]).status == "ok"


def test_a_hostname_that_resolves_to_loopback_is_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    url = f"http://localhost:{httpserver.port}/feed.xml"
    with pytest.raises(FetchError, match="refused to connect"):
        fetch(make_session(HTTP, guard=True), url, HTTP)
    assert fetch(make_session(HTTP), url, HTTP).status == 200  # unguarded, it would connect


@pytest.mark.parametrize(
    "target",
    [
        "http://0.0.0.0:{port}/feed.xml",  # this machine, reached without the name "loopback"
        "http://10.0.0.1/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_every_redirect_is_checked_again(httpserver: HTTPServer, target: str) -> None:
    location = target.format(port=httpserver.port)
    httpserver.expect_request("/start").respond_with_response(
        Response(status=302, headers={"Location": location})
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    guarded = make_session(HTTP, guard=True, allow_loopback=True)  # 127.0.0.1 itself may pass

    with pytest.raises(FetchError, match="refused to connect"):
        fetch(guarded, httpserver.url_for("/start"), HTTP)
    assert [r.path for r, _ in httpserver.log] == ["/start"]


def test_the_redirect_test_could_fail(httpserver: HTTPServer) -> None:
    """Without the guard, the redirect to 0.0.0.0 reaches this machine's server."""
    location = f"http://0.0.0.0:{httpserver.port}/feed.xml"
    httpserver.expect_request("/start").respond_with_response(
        Response(status=302, headers={"Location": location})
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        FEED, content_type="application/rss+xml"
    )
    assert fetch(make_session(HTTP), httpserver.url_for("/start"), HTTP).body == FEED


def test_a_guarded_session_ignores_proxy_settings_from_the_environment() -> None:
    assert make_session(HTTP, guard=True).trust_env is False
    assert make_session(HTTP).trust_env is True
