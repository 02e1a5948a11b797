"""The owners' page in `pxstream demo` (docs/owners-page.md): served, signed, and its address printed.

The demo runs `pxstream connect http` beside the worker, with a signing secret made for this run
(the worker's actions stage signs its notification links with the same one), an ingest token for
the synthetic ICB, and prints the page's address and a sign-in link for the owner of the planted
Ward 7 hotspot, so a person watching can complete an action and see the alert and wall screen change.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

from connectors.ingest.tokens import token_digest
from connectors.synthetic import ICB, UNITS
from infra.procs import free_port, port_is_free
from pxstream.web.owners_auth import OwnerAuth
from schemas.settings import Settings
from streams.actions.links import SECRET_ENV

PUBLIC_URL_ENV = "PXSTREAM_PUBLIC_URL"

DEMO_LISTEN = "127.0.0.1:8080"


def _free_loopback_port(preferred: int = 8080) -> int:
    """8080 when it is free, else any free port (several demos may share a machine)."""
    return preferred if port_is_free("127.0.0.1", preferred) else free_port()


def prepare(settings: Settings) -> Settings:
    """What the page needs and the operator did not set: a secret, its address, a token file.

    Returns the settings the demo's worker and HTTP server run with (their environment is
    `child_environment()` of them), so the stage signs links with the page's secret.
    """
    env = settings.child_environment()
    if settings.web.secret_key is None:
        env[SECRET_ENV] = secrets.token_urlsafe(32)
    if not settings.environ.get(PUBLIC_URL_ENV):
        env[PUBLIC_URL_ENV] = f"http://127.0.0.1:{_free_loopback_port()}"
    if settings.web.ingest_tokens is None:
        path = settings.data_dir / "demo-tokens.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = token_digest(secrets.token_urlsafe(24))  # the demo itself never posts events
        path.write_text(f"tokens:\n  - {{organisation: {ICB}, sha256: {digest}}}\n", encoding="utf-8")
        env["PXSTREAM_INGEST_TOKENS"] = str(path)
    return Settings.from_env(env)


def start(command: list[str], settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """`pxstream connect http` on the demo's address (its log beside the worker's)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    host_port = settings.web.public_url.split("://", 1)[-1]
    listen = host_port if host_port.startswith("127.0.0.1:") else DEMO_LISTEN
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [*command, "connect", "http", "--listen", listen],
            env=settings.child_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def banner(settings: Settings) -> str:
    """The lines the demo prints: the page, and a sign-in link for the Ward 7 owner's list."""
    from streams.actions.agent import load_default_actions

    secret = settings.web.secret_key
    base = settings.web.public_url
    ward_7 = UNITS[0]
    place = {"organisation": ICB, "provider": ward_7.provider, "ward": ward_7.ward}
    owner = load_default_actions(settings).owner_for(place).owner
    link = f"{base}/sign-in?k={OwnerAuth(secret).sign_in_token(ICB, owner)}" if secret else "(no secret)"
    return (
        f"Owners' page:     {base}/actions (the link in each overdue alert opens its action)\n"
        f"Sign in as {owner} ({ICB}): {link}"
    )
