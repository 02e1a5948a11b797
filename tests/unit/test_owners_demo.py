"""`pxstream demo`'s owners' page: a secret and an address when not given, and a working sign-in link."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from connectors.ingest.tokens import TokenStore
from pxstream.web import demo_page
from pxstream.web.owners_auth import OwnerAuth
from schemas.settings import Settings


def test_the_demo_gets_a_secret_an_address_a_token_file_and_a_sign_in_link(tmp_path: Path) -> None:
    settings = demo_page.prepare(Settings.from_env({"PXSTREAM_DATA_DIR": str(tmp_path)}))
    secret = settings.web.secret_key
    assert secret is not None and settings.web.public_url.startswith("http://127.0.0.1:")
    assert settings.web.ingest_tokens is not None and settings.web.ingest_tokens.parent == tmp_path
    assert TokenStore.load(settings.web.ingest_tokens)  # a valid tokens file for the ICB
    lines = demo_page.banner(settings).splitlines()
    assert lines[0].startswith(f"Owners' page:     {settings.web.public_url}/actions")
    link = lines[1].split(": ", 1)[1]
    token = parse_qs(urlsplit(link).query)["k"][0]
    owner = lines[1].split()[3]
    assert OwnerAuth(secret).sign_in_owner(token, [owner]) == ("QNB", owner)
    again = demo_page.prepare(settings)
    assert again == settings  # what the operator (or a first call) set is kept
    assert again.child_environment() == settings.child_environment()


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
