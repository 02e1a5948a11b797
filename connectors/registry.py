"""Every connector pxstream ships, listed once.

`pxstream connect NAME` registers each module's subcommand from this list, and
`pxstream connect run` accepts a connector `type:` from it with the options given here, so
adding a connector is one entry, not three edits that can drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ConnectorEntry:
    name: str  # `pxstream connect NAME`, and `type:` in a `connect run` file
    module: str  # has `register(subparsers)`; when runnable, also `build_source(options, reference, secret)`
    # Options a `connect run` file may give besides name and type; None: not runnable from a file.
    run_options: frozenset[str] | None = None


CONNECTORS: Final[tuple[ConnectorEntry, ...]] = (
    ConnectorEntry("http", "connectors.ingest.cli"),
    ConnectorEntry("bluesky", "connectors.social.bluesky", frozenset({"endpoint", "rewind_s"})),
    ConnectorEntry(
        "mastodon",
        "connectors.social.mastodon",
        frozenset({"instance", "tags", "token_env", "transport", "streaming_url", "poll_interval_s"}),
    ),
    ConnectorEntry("rss", "connectors.news.rss", frozenset({"feeds", "poll_interval_s"})),
    ConnectorEntry(
        "careopinion",
        "connectors.reviews.careopinion",
        frozenset({"api_key_env", "base_url", "since", "take", "poll_interval_s", "filters"}),
    ),
    ConnectorEntry(
        "nhs-reviews",
        "connectors.reviews.nhs_reviews",
        frozenset({"ods_codes", "api_key_env", "base_url", "since", "poll_interval_s", "skip_care_opinion"}),
    ),
    ConnectorEntry(
        "imap",
        "connectors.mail.imap",
        frozenset(
            {
                "host",
                "port",
                "user",
                "password_env",
                "mailbox",
                "security",
                "source",
                "provider",
                "skip_existing",
                "poll_interval_s",
            }
        ),
    ),
    ConnectorEntry("file", "connectors.files.cli"),
    ConnectorEntry("reference", "connectors.reference.cli"),  # load ODS reference files
    ConnectorEntry("synthetic", "connectors.synthetic"),  # the demo and load feed
    ConnectorEntry("run", "connectors.runner"),  # several of the runnable ones from one YAML file
)
