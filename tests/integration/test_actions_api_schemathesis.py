"""schemathesis explores the actions routes of the served OpenAPI document against the real broker:
no server error, every status and body as documented, every schema-invalid request refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from connectors.ingest.server import IngestConfig
from connectors.ingest.tokens import TokenStore
from infra.broker import delete_topics, ensure_topics
from pxstream.web.actions_api import ActionsApiConfig
from pxstream.web.app import create_app
from pxstream.web.due import due_clock_for
from pxstream.web.openapi import build_document
from schemas.topics import TopicSpec
from streams.actions.calendar import WorkingCalendar
from tests.conftest import wait_for
from tests.integration._action_records import action
from tests.integration.test_ingest_http import CHECKS, TOKEN, RunningServer, credentials_for, write_tokens
from tests.support.kafka import produce_json

pytestmark = pytest.mark.integration
schema = schemathesis.openapi.from_dict(build_document()).include(path_regex="^/v1/actions")
SESSION = requests.Session()
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
KNOWN = "act-qwo-open"
# Generation only: nothing to shrink, so it takes a second.
QUICK = settings(
    max_examples=100, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def actions_server(kafka_bootstrap: str, tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    suffix = uuid.uuid4().hex[:12]
    names = [f"test-actions-st-{suffix}", f"test-commands-st-{suffix}", f"test-raw-st-{suffix}"]
    ensure_topics(kafka_bootstrap, [TopicSpec(name, partitions=1) for name in names])
    produce_json(kafka_bootstrap, names[0], [action(KNOWN, ["QWO"]), action("act-qm7", ["QM7"])])
    app = create_app(
        IngestConfig(bootstrap=kafka_bootstrap, topic=names[2], rate_per_s=10_000, burst=10_000),
        TokenStore.load(write_tokens(tmp_path_factory.mktemp("tokens"))),
        due_clock=due_clock_for(WorkingCalendar()),
        # No stage here: a valid create answers 202 "pending" after this wait.
        actions=ActionsApiConfig(kafka_bootstrap, names[0], names[1], create_wait_s=0.2),
    )
    try:
        with RunningServer(app) as server:
            wait_for(
                lambda: (
                    SESSION.get(f"{server.url}/v1/actions", headers=HEADERS, timeout=10).status_code == 200
                ),
                30,
                "the actions view",
            )
            yield server.url
    finally:
        delete_topics(kafka_bootstrap, names)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_no_server_errors_in_the_actions_api(case, actions_server: str) -> None:  # type: ignore[no-untyped-def]
    if case.path_parameters and "action_id" in case.path_parameters:
        case.path_parameters["action_id"] = KNOWN  # exercise the body checks, not only the 404
    headers = credentials_for(case)
    kwargs = case.as_transport_kwargs(base_url=actions_server, headers=headers)
    response = SESSION.request(**kwargs, timeout=60)
    case.validate_response(response, checks=CHECKS, headers=headers, transport_kwargs=kwargs)


def test_credentials_left_out_by_a_negative_case_stay_out() -> None:
    """Schemathesis's negative header cases go out without our token (it expects them refused);
    every other case gets it. Both kinds must turn up among the generated cases, so a change in
    how schemathesis marks its mutations fails here rather than quietly sending the token again."""
    seen = {"negative header": 0, "other": 0}

    @given(case=schema["/v1/actions"]["GET"].as_strategy(generation_mode=GenerationMode.NEGATIVE))
    @settings(QUICK)
    def check(case) -> None:  # type: ignore[no-untyped-def]
        component = case.meta.components.get(ParameterLocation.HEADER)
        if component is not None and component.mode is GenerationMode.NEGATIVE:
            assert credentials_for(case) == {}
            seen["negative header"] += 1
        else:
            assert credentials_for(case) == HEADERS
            seen["other"] += 1

    check()
    assert all(seen.values()), seen
