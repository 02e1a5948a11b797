"""`pxstream connect http --listen HOST:PORT`: the HTTP ingest API."""

from __future__ import annotations

import argparse
from pathlib import Path

from connectors.exceptions import ConnectorConfigError


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConnectorConfigError(
            f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080"
        )
    return host.strip("[]"), int(port)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "http",
        help="serve the HTTP ingest API (POST /v1/events) for GP practices, Healthwatch and web forms",
        description="Bearer tokens per organisation come from the YAML file named by "
        "PXSTREAM_INGEST_TOKENS (tokens: [{organisation: CODE, sha256: HEX}]).",
    )
    parser.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT (default 127.0.0.1:8080)")
    parser.add_argument("--tokens", type=Path, help="tokens file (default: $PXSTREAM_INGEST_TOKENS)")
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second per token (default 10)")
    parser.add_argument(
        "--burst", type=int, default=20, help="requests a token may make at once (default 20)"
    )
    parser.add_argument("--topic", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    from connectors.ingest.server import IngestConfig, create_app
    from connectors.ingest.tokens import ENV_VAR, TokenStore
    from schemas import topics
    from schemas.settings import Settings

    settings: Settings = args.settings
    host, port = parse_listen(args.listen)
    tokens_path = args.tokens or settings.web.ingest_tokens
    if not tokens_path:
        raise ConnectorConfigError(f"no tokens file: set {ENV_VAR} (or --tokens) to a YAML file of tokens")
    if args.rate <= 0 or args.burst < 1:
        raise ConnectorConfigError("--rate must be above 0 and --burst at least 1")
    config = IngestConfig(
        bootstrap=settings.kafka_bootstrap,
        topic=args.topic or topics.RAW,
        rate_per_s=args.rate,
        burst=args.burst,
    )
    # The top floor hands in the composed server (ingest + actions API); alone, ingest only.
    factory = getattr(args, "http_app_factory", None)
    tokens = TokenStore.load(Path(tokens_path))
    app = factory(settings, config, tokens) if factory else create_app(config, tokens)
    try:
        web.run_app(
            app, host=host, port=port, access_log=None, print=lambda message: print(message, flush=True)
        )
    except OSError as exc:
        raise ConnectorConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return 0
