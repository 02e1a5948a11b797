"""`pxstream demo`'s owners' page: a secret and an address when not given, and a working sign-in link."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from connectors.ingest.tokens import TokenStore
from pxstream.web import demo_page
from pxstream.web.owners_auth import OwnerAuth
from streams.actions.links import link_secret


def test_the_demo_gets_a_secret_an_address_a_token_file_and_a_sign_in_link(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    demo_page.prepare(env, tmp_path)
    secret = link_secret(env)
    assert secret is not None and env["PXSTREAM_PUBLIC_URL"].startswith("http://127.0.0.1:")
    assert TokenStore.load(Path(env["PXSTREAM_INGEST_TOKENS"]))  # a valid tokens file for the ICB
    lines = demo_page.banner(env).splitlines()
    assert lines[0].startswith(f"Owners' page:     {env['PXSTREAM_PUBLIC_URL']}/actions")
    link = lines[1].split(": ", 1)[1]
    token = parse_qs(urlsplit(link).query)["k"][0]
    owner = lines[1].split()[3]
    assert OwnerAuth(secret).sign_in_owner(token, [owner]) == ("QNB", owner)
    again = dict(env)
    demo_page.prepare(again, tmp_path)
    assert again == env  # what the operator (or a first call) set is kept


def test_the_sign_in_link_command_needs_the_secret_and_checks_its_arguments(
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    from pxstream.cli import main

    monkeypatch.delenv("PXSTREAM_WEB_SECRET", raising=False)
    assert main(["web", "sign-in-link", "--organisation", "QNB", "--owner", "r1a-ward-7"]) == 2
    assert "PXSTREAM_WEB_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("PXSTREAM_WEB_SECRET", "s" * 40)
    monkeypatch.setenv("PXSTREAM_PUBLIC_URL", "https://px.example")
    assert main(["web", "sign-in-link", "--organisation", "QNB", "--owner", "a b"]) == 2
    assert main(["web", "sign-in-link", "--organisation", "qnb", "--owner", "r1a-ward-7"]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("https://px.example/sign-in?k=QNB.") and "r1a" not in link
