"""The owners' page end to end: real broker, the real actions stage (a subprocess), real Alertmanager,
the composed server, and Debian's headless chromium (docs/owners-page.md).

A complaint for QWO goes overdue within seconds; the stage sends Alertmanager an overdue alert whose
`link` annotation is a signed link. The browser follows it, completes the action with an outcome,
and the test sees the completion on `actions` (outcome redacted by the stage) and the alert end
in Alertmanager. QM7 signs in and sees none of QWO's actions; a forged post, an expired link,
another organisation's link and a replayed change are refused. Screenshots at phone and desktop
size go to $PXSTREAM_SCREENSHOT_DIR (default: the test's tmp dir), and axe-core checks each page.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from connectors.ingest.server import IngestConfig
from connectors.ingest.tokens import TokenStore
from infra.broker import delete_topics
from pxstream.web.actions_api import ActionsApiConfig
from pxstream.web.app import create_app
from pxstream.web.due import due_clock_for
from pxstream.web.owners_auth import OwnerAuth
from pxstream.web.owners_config import owners_config
from schemas.action import OVERDUE_ALERTNAME, action_id_for
from schemas.settings import Settings
from schemas.topics import TOPICS
from streams.actions.config import load_actions
from streams.actions.links import action_token
from tests.conftest import wait_for
from tests.integration._actions_support import ActionsProcess, fresh_topics, write_actions_file
from tests.integration._browser_support import (
    DESKTOP,
    PHONE,
    axe_violations,
    chromium,
    full_page_screenshot,
    resize,
)
from tests.integration.test_ingest_http import RunningServer, write_tokens
from tests.support.hotspots import Alertmanager
from tests.support.kafka import produce_json, read_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SECRET = "integration-owners-page-secret-0123456789"
PHONE_NUMBER = "07700 900123"
OWNERS = [
    {"match": {}, "owner": "icb-quality-team", "escalate_to": ["icb-head-of-quality"]},
    {"match": {"provider": "R1A", "ward": "Ward 7"}, "owner": "r1a-ward-7", "escalate_to": ["r1a-matron"]},
]
RULES = [
    {"id": "complaint-acknowledgement", "on": "event", "when": {"source": ["complaint"]},
     "title": "Acknowledge the complaint and offer to discuss how it will be handled",
     "due": "3 seconds", "escalate_every": "1 working day"},
    {"id": "duty-of-candour", "on": "event", "when": {"source": ["incident"]},
     "title": "Duty-of-candour conversation and written follow-up", "due": "10 working days"},
]  # fmt: skip


def tagged(
    event_id: str, organisation: str, *, source: str = "complaint", ward: str = "Ward 7"
) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "event_id": event_id,
        "source": source,
        "organisation": organisation,
        "provider": "R1A",
        "ward": ward,
        "occurred_at": now,
        "received_at": now,
        "text": "Nobody answered the call bell for 40 minutes [NAME] said",
        "domains": ["building_better_relationships"],
    }


@dataclass
class Stack:
    url: str
    bootstrap: str
    prefix: str
    alertmanager: Alertmanager
    auth: OwnerAuth

    def actions(self) -> dict[str, dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for _p, _o, _k, value in read_all(self.bootstrap, self.prefix + "actions"):
            if value and value["version"] >= latest.get(value["action_id"], {"version": 0})["version"]:
                latest[value["action_id"]] = value
        return latest

    def commands(self, action_id: str) -> list[dict[str, Any]]:
        records = read_all(self.bootstrap, self.prefix + "actions.commands")
        return [value for _p, _o, _k, value in records if value and value["action_id"] == action_id]

    def alerts(self, action_id: str) -> list[dict[str, Any]]:
        return [
            a
            for a in self.alertmanager.alerts()
            if a["labels"].get("alertname") == OVERDUE_ALERTNAME and a["labels"].get("action_id") == action_id
        ]

    def sign_in_link(self, organisation: str, owner: str) -> str:
        return f"{self.url}/sign-in?k={self.auth.sign_in_token(organisation, owner)}"


@pytest.fixture
def stack(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Stack]:
    prefix = fresh_topics(kafka_bootstrap)
    actions_file = write_actions_file(tmp_path / "actions.yaml", RULES, OWNERS)
    alertmanager = Alertmanager(tmp_path / "alertmanager").start()
    config = ActionsApiConfig(
        bootstrap=kafka_bootstrap,
        actions_topic=prefix + "actions",
        commands_topic=prefix + "actions.commands",
    )
    actions = load_actions(actions_file)
    stage = ActionsProcess(
        tmp_path,
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        actions_file=actions_file,
        alertmanager_url=alertmanager.url,
        resend_interval=2.0,
    )
    try:
        app = create_app(
            IngestConfig(
                bootstrap=kafka_bootstrap, topic=prefix + "feedback.raw", rate_per_s=1000, burst=1000
            ),
            TokenStore.load(write_tokens(tmp_path)),
            due_clock=due_clock_for(actions.calendar),
            actions=config,
            owners=owners_config(
                actions, Settings.from_env({"PXSTREAM_WEB_SECRET": SECRET, "PXSTREAM_PUBLIC_URL": "http://x"})
            ),
        )
        with RunningServer(app) as running:
            # the stage signs each alert's link for this server, with the server's secret
            stage.env.update(PXSTREAM_PUBLIC_URL=running.url, PXSTREAM_WEB_SECRET=SECRET)
            stage.start()
            yield Stack(running.url, kafka_bootstrap, prefix, alertmanager, OwnerAuth(SECRET.encode()))
    finally:
        stage.stop()
        alertmanager.stop()
        delete_topics(kafka_bootstrap, [prefix + spec.name for spec in TOPICS])


def screenshots_dir(tmp_path: Path) -> Path:
    return Path(os.environ.get("PXSTREAM_SCREENSHOT_DIR") or tmp_path / "screenshots")


def test_follow_the_notification_complete_the_action_and_the_alert_resolves(
    stack: Stack, tmp_path: Path
) -> None:
    qwo_id = action_id_for("complaint-acknowledgement", "event", "QWO", "c-qwo-1")
    qm7_id = action_id_for("complaint-acknowledgement", "event", "QM7", "c-qm7-1")
    produce_json(
        stack.bootstrap,
        stack.prefix + "feedback.tagged",
        [
            tagged("c-qwo-1", "QWO"),
            tagged("c-qm7-1", "QM7"),
            tagged("i-qwo-2", "QWO", source="incident", ward="Ward 9"),  # a second, not yet due, for the list
        ],
    )
    alert = wait_for(lambda: next(iter(stack.alerts(qwo_id)), None), 60, "the overdue alert in Alertmanager")
    link = alert["annotations"]["link"]
    assert link.startswith(f"{stack.url}/actions/{qwo_id}?k=") and "r1a" not in urlsplit(link).query
    shots = screenshots_dir(tmp_path)

    with chromium(PHONE) as browser:
        resize(browser, PHONE)
        browser.get(link)
        assert browser.current_url == f"{stack.url}/actions/{qwo_id}"  # the token left the address bar
        assert "Acknowledge the complaint" in browser.find_element("tag name", "h1").text
        assert "overdue" in browser.page_source
        full_page_screenshot(browser, shots / "action-phone.png")
        assert axe_violations(browser) == []
        resize(browser, DESKTOP)
        full_page_screenshot(browser, shots / "action-desktop.png")
        assert axe_violations(browser) == []

        # an empty outcome is asked for in plain words, nothing sent
        browser.find_element("css selector", "form button.nhsuk-button:not(.nhsuk-button--secondary)").click()
        summary = wait_for(  # the answer is a new page: look once it has loaded, not at the old one
            lambda: browser.find_elements("css selector", ".nhsuk-error-summary"), 30, "the error summary"
        )
        assert "Enter what was done" in summary[0].text
        full_page_screenshot(browser, shots / "action-error-desktop.png")
        assert axe_violations(browser) == []
        assert stack.commands(qwo_id) == []
        outcome = browser.find_element("id", "complete-outcome")
        outcome.clear()
        outcome.send_keys(f"Call bells checked every hour; patient's daughter called back on {PHONE_NUMBER}")
        fields = {
            e.get_attribute("name"): e.get_attribute("value")
            for e in outcome.find_element("xpath", "./ancestor::form").find_elements("css selector", "input")
        }
        outcome.find_element("xpath", "./ancestor::form").find_element("css selector", "button").click()
        banner = wait_for(
            lambda: browser.find_elements("css selector", ".nhsuk-notification-banner--success"),
            30,
            "the banner",
        )
        assert "completed" in banner[0].text.lower()
        resize(browser, PHONE)
        full_page_screenshot(browser, shots / "action-completed-phone.png")
        assert axe_violations(browser) == []
        cookies = {c["name"]: c["value"] for c in browser.get_cookies()}

    done = wait_for(
        lambda: (a := stack.actions().get(qwo_id)) and a["status"] == "completed" and a, 30, "done"
    )
    assert done["outcome"].startswith("Call bells checked every hour") and PHONE_NUMBER not in done["outcome"]
    assert done["history"][-1]["by"] == alert["labels"]["notify"]  # whom the link was sent to
    wait_for(
        lambda: all(a["status"]["state"] != "active" or a["endsAt"] <= time.strftime("%Y-%m-%dT%H:%M:%S")
                    for a in stack.alerts(qwo_id)),
        30,
        "the overdue alert to resolve in Alertmanager",
    )  # fmt: skip

    # the same form post again (a replay, a double click, a back-button resubmit): applied once
    replay = requests.post(
        f"{stack.url}/actions/{qwo_id}",
        data={
            **fields,
            "outcome": f"Call bells checked every hour; patient's daughter called back on {PHONE_NUMBER}",
        },
        cookies=cookies,
        allow_redirects=False,
        timeout=30,
    )
    assert replay.status_code == 303
    assert len([c for c in stack.commands(qwo_id) if c["change"] == "complete"]) == 1
    assert [e["change"] for e in stack.actions()[qwo_id]["history"]].count("complete") == 1

    # forged posts: no token, a wrong token, another site's page - refused, nothing sent
    for data, headers in (
        ({k: v for k, v in fields.items() if k != "csrf"}, {}),
        ({**fields, "csrf": "x" * 43}, {}),
        (fields, {"Origin": "https://attacker.example"}),
    ):
        forged = requests.post(
            f"{stack.url}/actions/{qwo_id}",
            data={**data, "change": "comment", "note": "forged"},
            cookies=cookies,
            headers=headers,
            timeout=30,
        )
        assert forged.status_code == 403
    assert not [c for c in stack.commands(qwo_id) if c["change"] == "comment"]

    # an expired link and another organisation's link
    expired = action_token(stack.auth.secret, qwo_id, "r1a-ward-7", int(time.time()) - 1)
    assert requests.get(f"{stack.url}/actions/{qwo_id}?k={expired}", timeout=30).status_code == 403
    qm7_list = requests.Session()
    assert qm7_list.get(stack.sign_in_link("QM7", "r1a-ward-7"), timeout=30).status_code == 200
    assert qm7_list.get(link, timeout=30).status_code == 403  # QWO's link while signed in for QM7
    assert qm7_list.get(f"{stack.url}/actions/{qwo_id}", timeout=30).status_code == 404
    assert qm7_id in qm7_list.get(f"{stack.url}/actions", timeout=30).text


def test_each_organisation_sees_only_its_own_list_and_the_pages_read_well(
    stack: Stack, tmp_path: Path
) -> None:
    produce_json(
        stack.bootstrap,
        stack.prefix + "feedback.tagged",
        [tagged("c-qwo-1", "QWO"), tagged("i-qwo-2", "QWO", source="incident", ward="Ward 7"),
         tagged("c-qm7-1", "QM7")],
    )  # fmt: skip
    qwo_ids = {
        action_id_for("complaint-acknowledgement", "event", "QWO", "c-qwo-1"),
        action_id_for("duty-of-candour", "event", "QWO", "i-qwo-2"),
    }
    qm7_id = action_id_for("complaint-acknowledgement", "event", "QM7", "c-qm7-1")
    wait_for(lambda: len(stack.actions()) == 3, 60, "three actions")
    wait_for(
        lambda: any(a["overdue"] for a in stack.actions().values() if a["action_id"] in qwo_ids),
        30,
        "overdue",
    )
    shots = screenshots_dir(tmp_path)
    with chromium(DESKTOP) as browser:
        browser.get(stack.sign_in_link("QM7", "r1a-ward-7"))
        assert browser.current_url == f"{stack.url}/actions"
        page = browser.page_source
        assert qm7_id in page and not any(action_id in page for action_id in qwo_ids)
        browser.get(f"{stack.url}/actions/{next(iter(qwo_ids))}")
        assert "Action not found" in browser.find_element("tag name", "h1").text

        browser.delete_all_cookies()
        browser.get(stack.sign_in_link("QWO", "r1a-ward-7"))
        page = browser.page_source
        assert all(action_id in page for action_id in qwo_ids) and qm7_id not in page
        cards = browser.find_elements("css selector", ".nhsuk-card__link")
        assert "Acknowledge the complaint" in cards[0].text  # the overdue one first
        assert "working days" in page or "overdue" in page
        for size, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
            resize(browser, size)
            full_page_screenshot(browser, shots / f"list-{name}.png")
            assert axe_violations(browser) == []

        # keyboard only: the skip link is the first stop, then the service link
        resize(browser, DESKTOP)
        from selenium.webdriver.common.keys import Keys

        browser.find_element("tag name", "body").send_keys(Keys.TAB)
        assert browser.switch_to.active_element.text == "Skip to main content"
