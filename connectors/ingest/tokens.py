"""Bearer tokens for the HTTP ingest API: which organisation a request speaks for.

The tokens file (`PXSTREAM_INGEST_TOKENS`) holds only SHA-256 digests, never tokens, so the
file can live in configuration management. A presented token is hashed and compared against
every digest with `hmac.compare_digest`, without an early exit, so response time says nothing
about how much of a digest matched or where in the file it sits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from connectors.exceptions import ConnectorConfigError

ENV_VAR = "PXSTREAM_INGEST_TOKENS"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CODE = re.compile(r"^[A-Z0-9]{2,12}$")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the organisation, and a stable non-secret key for rate limiting."""

    organisation: str
    key: str  # the token's digest


class _LineLoader(yaml.SafeLoader):
    """Keeps each mapping's line number, so errors point at the entry to fix."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


class TokenStore:
    def __init__(self, entries: list[tuple[str, str]]) -> None:
        self._entries = [(digest.encode("ascii"), organisation) for digest, organisation in entries]

    @classmethod
    def load(cls, path: Path) -> TokenStore:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConnectorConfigError(
                f"ingest tokens file {path} ({ENV_VAR}) cannot be read: {exc.strerror or exc}"
            ) from exc
        try:
            document = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise ConnectorConfigError(
                f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
            ) from exc
        if not isinstance(document, dict) or not isinstance(document.get("tokens"), list):
            raise ConnectorConfigError(
                f"{path}: expected `tokens: [{{organisation: CODE, sha256: <hex of the token>}}, ...]`"
            )
        entries: list[tuple[str, str]] = []
        owners: dict[str, str] = {}
        for index, entry in enumerate(document["tokens"]):
            line = entry.get("__line__", 0) if isinstance(entry, dict) else 0
            where = f"{path}:{line}: tokens[{index}]"
            if not isinstance(entry, dict):
                raise ConnectorConfigError(f"{where}: expected {{organisation: CODE, sha256: HEX}}")
            unknown = set(entry) - {"organisation", "sha256", "__line__", "name"}
            if unknown:
                raise ConnectorConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
            organisation = str(entry.get("organisation") or "").strip().upper()
            digest = str(entry.get("sha256") or "").strip().lower()
            if not _CODE.match(organisation):
                raise ConnectorConfigError(
                    f"{where}.organisation: {entry.get('organisation')!r} is not an ODS code"
                )
            if not _HEX64.match(digest):
                raise ConnectorConfigError(
                    f"{where}.sha256: expected 64 hex characters (sha256 of the token: "
                    "`printf %s TOKEN | sha256sum`)"
                )
            if owners.setdefault(digest, organisation) != organisation:
                raise ConnectorConfigError(
                    f"{where}.sha256: the same token is listed for {owners[digest]} too"
                )
            entries.append((digest, organisation))
        if not entries:
            raise ConnectorConfigError(f"{path}: no tokens listed; nobody could submit")
        return cls(entries)

    def authenticate(self, authorization: str | None) -> Caller | None:
        """The caller for an `Authorization: Bearer <token>` header, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        presented = token_digest(token).encode("ascii")
        found: str | None = None
        for digest, organisation in self._entries:
            if hmac.compare_digest(presented, digest):  # no break: same work for every token
                found = organisation
        return Caller(found, presented.decode("ascii")) if found is not None else None
