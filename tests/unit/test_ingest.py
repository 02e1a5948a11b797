"""HTTP ingest API without a broker: authentication, organisation refusal, validation, limits.

Kafka here is a closed loopback port (a real absence, not a fake), so every path that would
send answers 503; the integration tests cover the 202 path on the real broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.exceptions import ConnectorConfigError
from connectors.ingest.cli import parse_listen
from connectors.ingest.openapi import build_document
from connectors.ingest.server import IngestConfig, create_app
from connectors.ingest.tokens import TokenStore, token_digest
from connectors.ratelimit import CallerRateLimit, retry_after_header
from infra.procs import free_port
from schemas.feedback_event import SCHEMA

GP_TOKEN = "gp-practice-secret-token"
HW_TOKEN = "healthwatch-secret-token"


def closed_port() -> int:
    return free_port()  # its probe socket is closed again: nothing listens on the port


def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.yaml"
    path.write_text(
        "tokens:\n"
        f"  - organisation: QWO\n    sha256: {token_digest(GP_TOKEN)}\n"
        f"  - organisation: qm7\n    sha256: {token_digest(HW_TOKEN).upper()}\n",
        encoding="utf-8",
    )
    return path


def event(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": "e1",
        "source": "web_form",
        "occurred_at": "2025-03-01T14:30:00Z",
        "text": "ok",
        **fields,
    }


def run_app(tmp_path: Path, body: Callable[[TestClient], Awaitable[None]], **config: Any) -> None:
    async def main() -> None:
        app = create_app(
            IngestConfig(bootstrap=f"127.0.0.1:{closed_port()}", connect_timeout_s=1.0, **config),
            TokenStore.load(tokens_file(tmp_path)),
        )
        async with TestClient(TestServer(app)) as client:
            await body(client)

    asyncio.run(main())


def auth(token: str = GP_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_authenticate_to_their_organisation(tmp_path: Path) -> None:
    store = TokenStore.load(tokens_file(tmp_path))
    assert store.authenticate(f"Bearer {GP_TOKEN}").organisation == "QWO"  # type: ignore[union-attr]
    assert store.authenticate(f"bearer  {HW_TOKEN} ").organisation == "QM7"  # type: ignore[union-attr]
    for header in (None, "", "Bearer", f"Basic {GP_TOKEN}", "Bearer wrong", f"Bearer {GP_TOKEN}x"):
        assert store.authenticate(header) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tokens: []\n", "no tokens listed"),
        ("toknes: []\n", "expected `tokens:"),
        (
            "tokens:\n  - organisation: QWO\n    sha256: abc\n",
            r"tokens\.yaml:2: tokens\[0\]\.sha256: expected 64 hex",
        ),
        ("tokens:\n  - organisation: Q W\n    sha256: " + "a" * 64 + "\n", r":2: tokens\[0\]\.organisation"),
        ("tokens:\n  - {organisation: QWO, sha256: " + "a" * 64 + ", token: x}\n", "unknown key"),
        (
            "tokens:\n  - {organisation: QWO, sha256: "
            + "a" * 64
            + "}\n  - {organisation: QM7, sha256: "
            + "a" * 64
            + "}\n",
            r":3: tokens\[1\]\.sha256: the same token is listed for QWO",
        ),
        ("tokens: [\n", "not valid YAML"),
    ],
)
def test_bad_token_files_are_refused_with_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConnectorConfigError, match=message):
        TokenStore.load(path)
    with pytest.raises(ConnectorConfigError, match="PXSTREAM_INGEST_TOKENS"):
        TokenStore.load(tmp_path / "missing.yaml")


def test_token_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    limiter = CallerRateLimit(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0  # buckets are per token
    now[0] = 0.5
    assert limiter.take("a") == 0.0
    assert retry_after_header(0.2) == "1" and retry_after_header(2.1) == "3"


def test_openapi_embeds_the_published_event_schema() -> None:
    document = build_document()
    embedded = document["components"]["schemas"]["FeedbackEvent"]
    assert embedded["properties"] == SCHEMA["properties"] and embedded["required"] == SCHEMA["required"]
    assert set(document["paths"]) == {"/v1/events", "/healthz", "/openapi.json", "/metrics"}
    responses = document["paths"]["/v1/events"]["post"]["responses"]
    assert set(responses) == {"202", "400", "401", "403", "413", "429", "503"}


def test_listen_address_is_checked() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    for bad in ("8080", "host:", "host:http", "host:70000"):
        with pytest.raises(ConnectorConfigError, match="expected HOST:PORT"):
            parse_listen(bad)


def test_no_or_unknown_token_is_401(tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        for headers in ({}, auth("nope"), {"Authorization": f"Basic {GP_TOKEN}"}):
            response = await client.post("/v1/events", json=event(), headers=headers)
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert "error" in await response.json()

    run_app(tmp_path, body)


def test_an_event_for_another_organisation_is_403(tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        response = await client.post(
            "/v1/events", json=[event(event_id="a"), event(event_id="b", organisation="QM7")], headers=auth()
        )
        assert response.status == 403
        assert (await response.json())["indexes"] == [1]
        # The Healthwatch token may submit for QM7 itself, in any spelling: validation passes and
        # the request reaches Kafka (here absent, so 503; never 403).
        response = await client.post("/v1/events", json=event(organisation=" qm7"), headers=auth(HW_TOKEN))
        assert response.status == 503

    run_app(tmp_path, body)


def test_every_problem_of_every_event_is_listed_in_the_400(tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        batch = [
            event(event_id="a"),
            {"event_id": "b", "source": "tweet", "occurred_at": "yesterday", "txt": "typo"},
            event(event_id="a", rating=9),
            event(event_id="c", occurred_at="2999-01-01T00:00:00Z"),
            "not an object",
        ]
        response = await client.post("/v1/events", json=batch, headers=auth())
        assert response.status == 400
        errors = {(e["index"], e["path"]) for e in (await response.json())["errors"]}
        assert errors == {
            (1, "source"),
            (1, "occurred_at"),
            (1, "txt"),
            (1, "text"),
            (2, "event_id"),
            (2, "rating"),
            (3, "occurred_at"),
            (4, ""),
        }

    run_app(tmp_path, body)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "the array is empty"),
        (b"42", "expected a FeedbackEvent object or an array"),
    ],
)
def test_bodies_that_are_not_events_are_400(tmp_path: Path, payload: bytes, message: str) -> None:
    async def body(client: TestClient) -> None:
        response = await client.post("/v1/events", data=payload, headers=auth())
        assert response.status == 400
        [error] = (await response.json())["errors"]
        assert error["index"] is None and message in error["message"]

    run_app(tmp_path, body)


def test_more_than_the_event_limit_is_400(tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        response = await client.post(
            "/v1/events", json=[event(event_id=str(n)) for n in range(1001)], headers=auth()
        )
        assert response.status == 400
        assert "1,001 events; the limit is 1,000" in (await response.json())["errors"][0]["message"]

    run_app(tmp_path, body)


def test_bodies_over_5_mib_are_413_with_or_without_content_length(tmp_path: Path) -> None:
    big = b"[" + b" " * (5 * 1024 * 1024) + b"]"

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    async def body(client: TestClient) -> None:
        response = await client.post("/v1/events", data=big, headers=auth())
        assert response.status == 413
        assert "5 MiB" in (await response.json())["error"]
        response = await client.post("/v1/events", data=chunks(), headers=auth())  # chunked: no length
        assert response.status == 413

    run_app(tmp_path, body)


def test_over_the_rate_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        statuses = []
        for _ in range(3):
            response = await client.post("/v1/events", data=b"[]", headers=auth())
            statuses.append(response.status)
        assert statuses == [400, 400, 429]
        assert int(response.headers["Retry-After"]) >= 1
        other = await client.post("/v1/events", data=b"[]", headers=auth(HW_TOKEN))
        assert other.status == 400  # another token has its own bucket

    run_app(tmp_path, body, rate_per_s=0.01, burst=2)


def test_kafka_down_is_503_not_500_and_health_says_so(tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        response = await client.post("/v1/events", json=event(), headers=auth())
        assert response.status == 503
        assert "Kafka is not reachable" in (await response.json())["error"]
        assert response.headers["Retry-After"] == "5"
        response = await client.get("/healthz")
        assert response.status == 503 and (await response.json())["status"] == "unavailable"

    run_app(tmp_path, body)


def test_openapi_metrics_and_unknown_routes(tmp_path: Path) -> None:
    async def body(client: TestClient) -> None:
        response = await client.get("/openapi.json")
        assert response.status == 200 and (await response.json())["openapi"] == "3.1.0"
        await client.post("/v1/events", json=event(), headers=auth("bad"))
        response = await client.get("/nope")
        assert response.status == 404 and "error" in await response.json()
        response = await client.get("/v1/events")
        assert response.status == 405
        metrics = await (await client.get("/metrics")).text()
        assert 'pxstream_ingest_requests_total{route="/v1/events",status="401"} 1.0' in metrics
        assert "pxstream_ingest_events_accepted" in metrics
        assert GP_TOKEN not in metrics and token_digest(GP_TOKEN) not in metrics

    run_app(tmp_path, body)


def test_logs_never_carry_text_or_tokens(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")

    async def body(client: TestClient) -> None:
        await client.post("/v1/events", json=event(text="my NHS number is 943 476 5919"), headers=auth())
        await client.post("/v1/events", json=event(source="bad"), headers=auth())

    run_app(tmp_path, body)
    logged = caplog.text
    assert "POST /v1/events 503 organisation=QWO events=1" in logged
    assert "943 476 5919" not in logged and GP_TOKEN not in logged and token_digest(GP_TOKEN) not in logged


def test_cli_refuses_missing_tokens_configuration(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from pxstream.cli import main

    monkeypatch.delenv("PXSTREAM_INGEST_TOKENS", raising=False)
    assert main(["connect", "http", "--listen", "127.0.0.1:0"]) == 2
    assert "PXSTREAM_INGEST_TOKENS" in capsys.readouterr().err
    assert main(["connect", "http", "--listen", "nowhere"]) == 2
