"""`pxstream web sign-in-link`: a person's link to their list on the owners' page (docs/owners-page.md).

An administrator makes one per owner and sends it to the mailbox the actions file routes that
owner's notifications to - the same trust the notifications already rely on. It expires after
seven days; rotating `PXSTREAM_WEB_SECRET` ends every link and session at once.
"""

from __future__ import annotations

import argparse
import re

from schemas.errors import ConfigError

_ORGANISATION = re.compile(r"^[A-Z0-9]{2,12}$")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("web", help="the owners' web page: sign-in links")
    commands = parser.add_subparsers(dest="web_command", metavar="COMMAND", required=True)
    link = commands.add_parser(
        "sign-in-link",
        help="print a 7-day sign-in link to one owner's list of actions",
        description="Needs PXSTREAM_WEB_SECRET (the server's) and PXSTREAM_PUBLIC_URL (its address).",
    )
    link.add_argument("--organisation", required=True, help="ODS code of the organisation, e.g. QNB")
    link.add_argument("--owner", required=True, help="owner id as the actions file names it")
    link.set_defaults(func=sign_in_link)


def sign_in_link(args: argparse.Namespace) -> int:
    from pxstream.web.actions_requests import OWNER_PATTERN
    from pxstream.web.owners_auth import OwnerAuth
    from schemas.settings import MIN_SECRET_CHARS
    from streams.actions.links import SECRET_ENV

    organisation = args.organisation.strip().upper()
    if not _ORGANISATION.match(organisation):
        raise ConfigError(f"--organisation {args.organisation!r} is not an ODS code")
    if not OWNER_PATTERN.match(args.owner):
        raise ConfigError("--owner must be an owner id: letters, digits and . _ @ -")
    secret = args.settings.web.secret_key
    if secret is None:
        raise ConfigError(f"{SECRET_ENV} is not set (at least {MIN_SECRET_CHARS} characters)")
    token = OwnerAuth(secret).sign_in_token(organisation, args.owner)
    print(f"{args.settings.web.public_url}/sign-in?k={token}")
    return 0
