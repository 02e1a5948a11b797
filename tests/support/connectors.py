"""Test helpers for the source connectors: reference data, an in-memory sink, local servers.
(Reading what a connector put on Kafka: `tests.support.kafka.read_topic`.)"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from connectors.cursor import CursorStore
from connectors.reference import Aliases, Organisation, ReferenceData
from connectors.runtime import RunOptions, run_source
from infra.procs import free_port


def nottingham_reference() -> ReferenceData:
    """A handful of real-shaped organisations and curated aliases, through the real ReferenceData."""
    organisations = [
        Organisation("RX1", "Nottingham University Hospitals NHS Trust", "trust", "QT1", "", "NG7 2UH", True),
        Organisation("RX1RA", "Queen's Medical Centre", "site", "QT1", "RX1", "NG7 2UH", True),
        Organisation(
            "RHA", "Nottinghamshire Healthcare NHS Foundation Trust", "trust", "QT1", "", "NG3 6AA", True
        ),
        Organisation("C84001", "Elmwood Surgery", "gp_practice", "QT1", "", "NG5 1AA", True),
    ]
    aliases = [
        Aliases(
            "RX1",
            names=("NUH", "Nottingham University Hospitals"),
            hashtags=("NUH",),
            handles=("@NUHhospitals",),
        ),
        Aliases("RX1RA", names=("QMC", "Queen's Medical Centre")),
        Aliases("RHA", names=("Notts Healthcare",)),
    ]
    return ReferenceData.from_records(organisations, aliases=aliases)


class MemorySink:
    """An EventSink that records batches; `fail_next` makes the next send raise (a lost ack)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.batches = 0
        self.fail_next: BaseException | None = None

    async def send_many(self, events: Iterable[dict[str, Any]]) -> int:
        batch = list(events)
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.events.extend(batch)
        self.batches += 1
        return len(batch)


async def run_until_cursor(
    source: Any, *, name: str, topic: str, bootstrap: str, data_dir: Path, reached: Callable[[dict], bool]
) -> None:
    """Run a connector against the real broker until its saved cursor's position satisfies
    `reached`, then stop it the way the command line does (the stop event) and wait for it to end.

    A connector that fails meanwhile fails the test with its own exception."""
    stop = asyncio.Event()
    options = RunOptions(name=name, data_dir=data_dir)
    task = asyncio.create_task(
        run_source(source, bootstrap=bootstrap, topic=topic, options=options, stop=stop)
    )
    store = CursorStore(data_dir, name)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not reached(store.load().get("position", {})):
        assert loop.time() < deadline, f"the connector's cursor never got there: {store.load()}"
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    await asyncio.sleep(0)  # let a frame the server already sent (a replayed edit) arrive
    stop.set()
    await asyncio.wait_for(task, timeout=10)


class LocalServer:
    """An aiohttp application on a free loopback port, for the duration of an `async with`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._runner: Any = None

    async def __aenter__(self) -> LocalServer:
        from aiohttp import web

        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


def data_file(*parts: str) -> bytes:
    from pathlib import Path

    return Path(__file__).parents[1].joinpath("data", "sources", *parts).read_bytes()


class Dovecot:
    """A private Dovecot IMAP server on a free loopback port: temp config, passwd-file user, maildirs.

    Started in the foreground (`dovecot -c CONF -F`) as a child of the test and stopped by it; no
    system service is touched. When the tests run as root, mail is owned by `nobody` because
    Dovecot refuses uid 0 for mail users.
    """

    def __init__(self, user: str = "complaints", password: str = "correct horse battery") -> None:
        self.user = user
        self.password = password
        self.port = free_port()
        self.process: Any = None
        self.directory: Any = None

    def __enter__(self) -> Dovecot:
        import getpass
        import os
        import shutil
        import subprocess
        import tempfile
        import time
        from pathlib import Path

        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            raise AssertionError("dovecot is not installed: apt-get install -y dovecot-imapd")
        directory = Path(tempfile.mkdtemp(prefix="pxs-dovecot-"))
        directory.chmod(0o755)
        self.directory = directory
        for name in ("run", "state", "home"):
            (directory / name).mkdir()
        if os.geteuid() == 0:
            mail_uid = mail_gid = 65534
            internal_user, login_user = "dovecot", "dovenull"
            os.chown(directory / "home", mail_uid, mail_gid)
        else:
            mail_uid, mail_gid = os.getuid(), os.getgid()
            internal_user = login_user = getpass.getuser()
        (directory / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        off = "\n".join(
            f"service {svc} {{\n  inet_listener {name} {{\n    port = 0\n  }}\n}}"
            for svc, name in (("pop3-login", "pop3"), ("submission-login", "submission"))
        )
        (directory / "dovecot.conf").write_text(
            f"""base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_internal_user = {internal_user}
default_login_user = {login_user}
mail_location = maildir:{directory}/home/%u/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{off}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {directory}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={directory}/home/%u
}}
"""
        )
        self.process = subprocess.Popen(
            [binary, "-c", str(directory / "dovecot.conf"), "-F"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                log = (directory / "dovecot.log").read_text() if (directory / "dovecot.log").exists() else ""
                self.__exit__()
                raise AssertionError(f"dovecot did not start on 127.0.0.1:{self.port}: {output} {log}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        import shutil
        import subprocess

        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    def client(self) -> Any:
        import imaplib

        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(self.user, self.password)
        return client

    def append(
        self, raw: bytes, mailbox: str = "INBOX", internal_date: str = "24-Nov-2026 10:00:00 +0000"
    ) -> None:
        client = self.client()
        try:
            status, _ = client.append(f'"{mailbox}"', None, f'"{internal_date}"', raw)
            assert status == "OK", status
        finally:
            client.logout()
