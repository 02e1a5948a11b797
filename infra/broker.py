"""A single-node Apache Kafka broker (KRaft, broker + controller in one JVM) on loopback.

The jars come from Maven Central through `infra/kafka/pom.xml` and are cached under
`$PXSTREAM_DATA_DIR/kafka/libs` (re-fetched only when the pom changes). Storage is formatted once;
the rendered `server.properties` is rewritten at every start so port changes take effect — the
quorum is a static voter list rather than a `--standalone` dynamic quorum for the same reason (a
dynamic quorum records the controller's address in the formatted storage).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import re
import shutil
import string
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from infra.config import INFRA_DIR, LOOPBACK, InfraConfig
from infra.parts import InfraError, LocalPart, Progress, require_program
from runtime.admin import create_topics
from runtime.admin import delete_topics as runtime_delete_topics
from runtime.exceptions import TopicAdminError
from schemas.errors import UnreachableError
from schemas.topics import TopicSpec

KAFKA_DIR = INFRA_DIR / "kafka"
POM = KAFKA_DIR / "pom.xml"
SERVER_TEMPLATE = KAFKA_DIR / "server.properties.template"
LOG4J_CONFIG = KAFKA_DIR / "log4j2.properties"
TOOLS_LOG4J_CONFIG = KAFKA_DIR / "tools-log4j2.properties"

BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"

_log = logging.getLogger(__name__)


def kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not match:
        raise InfraError(f"{POM}: no <kafka.version> property")
    return match.group(1)


class KafkaBroker(LocalPart):
    name = "kafka"
    title = "Kafka"
    startup_timeout = 60.0

    def __init__(self, config: InfraConfig) -> None:
        super().__init__(config)
        self.home = config.data_dir / "kafka"

    @property
    def port(self) -> int:
        return self.config.kafka_port

    @property
    def extra_ports(self) -> tuple[int, ...]:
        return (self.config.controller_port,)

    @property
    def port_variables(self) -> dict[int, str]:
        return {
            self.config.kafka_port: "PXSTREAM_KAFKA_BOOTSTRAP",
            self.config.controller_port: "PXSTREAM_KAFKA_CONTROLLER_PORT",
        }

    @property
    def libs_dir(self) -> Path:
        return self.home / "libs"

    @property
    def storage_dir(self) -> Path:
        return self.home / "data"

    @property
    def server_properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def state_dirs(self) -> tuple[Path, ...]:
        # The jars stay: they are a download cache, not data.
        return (self.storage_dir,)

    @property
    def marker(self) -> str:
        return str(self.server_properties)

    @property
    def url(self) -> str:
        return self.config.kafka_bootstrap

    def classpath(self) -> str:
        return f"{self.libs_dir}/*"

    def check_installed(self) -> None:
        require_program("java", "default-jre-headless")
        if not self._jars_current():
            require_program("mvn", "maven")

    # -- preparing ---------------------------------------------------------------------------
    def prepare(self, progress: Progress) -> None:
        self.fetch_jars(progress)
        self.render_config()
        self.format_storage(progress)

    def _pom_stamp(self) -> str:
        return hashlib.sha256(POM.read_bytes()).hexdigest()

    def _jars_current(self) -> bool:
        stamp = self.libs_dir / ".pom-sha256"
        return stamp.is_file() and stamp.read_text().strip() == self._pom_stamp()

    def fetch_jars(self, progress: Progress) -> None:
        """Copy the broker's jars from Maven Central (through ~/.m2) into the data dir, once per pom."""
        if self._jars_current():
            return
        mvn = require_program("mvn", "maven")
        staging = self.home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        progress(
            f"Kafka: fetching Apache Kafka {kafka_version()} jars from Maven Central (first run: ~45 MB)"
        )
        argv = [
            mvn, "-B", "-f", str(POM), "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
        ]  # fmt: skip
        downloaded = 0
        tail: list[str] = []
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                tail = [*tail[-19:], line.rstrip()]
                if line.startswith("Downloaded from") and line.rstrip().endswith(")") and ".jar" in line:
                    downloaded += 1
                    name = line.split("/")[-1].split(" ")[0]
                    progress(f"  downloaded {name} ({line.rsplit('(', 1)[1].split(' at ')[0].rstrip(')')})")
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise InfraError(
                f"Kafka: fetching the jars with Maven failed (exit {proc.returncode}, pom {POM}):\n"
                + "\n".join(tail)
            )
        (staging / ".pom-sha256").write_text(self._pom_stamp() + "\n")
        shutil.rmtree(self.libs_dir, ignore_errors=True)
        staging.rename(self.libs_dir)
        jars = len(list(self.libs_dir.glob("*.jar")))
        progress(f"Kafka: {jars} jars cached in {self.libs_dir} ({downloaded} downloaded)")

    def render_config(self) -> None:
        template = string.Template(SERVER_TEMPLATE.read_text())
        self.home.mkdir(parents=True, exist_ok=True)
        self.server_properties.write_text(
            template.substitute(
                kafka_port=self.config.kafka_port,
                controller_port=self.config.controller_port,
                advertised_host=LOOPBACK,
                log_dirs=str(self.storage_dir),
            )
        )

    def format_storage(self, progress: Progress, cluster_id: str | None = None) -> None:
        if (self.storage_dir / "meta.properties").is_file():
            return
        cluster_id = cluster_id or base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        progress(f"Kafka: formatting KRaft storage in {self.storage_dir} (cluster {cluster_id})")
        argv = [
            require_program("java", "default-jre-headless"), "-Xmx256m",
            f"-Dlog4j2.configurationFile={TOOLS_LOG4J_CONFIG}", "-cp", self.classpath(), STORAGE_TOOL,
            # One argument, not "-t ID": about one random id in 64 starts with "-", which the tool's
            # parser would otherwise take for an option ("expected one argument").
            "format", "--ignore-formatted", f"--cluster-id={cluster_id}", "-c", str(self.server_properties),
        ]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise InfraError(
                f"Kafka: formatting storage {self.storage_dir} failed (exit {result.returncode}): "
                + (result.stderr or result.stdout).strip()[-2000:]
            )

    # -- running -----------------------------------------------------------------------------
    def command(self) -> list[str]:
        heap = self.config.kafka_heap
        return [
            require_program("java", "default-jre-headless"),
            f"-Xms{min_heap(heap)}", f"-Xmx{heap}",
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp", self.classpath(), BROKER_MAIN, str(self.server_properties),
        ]  # fmt: skip

    def answers(self, timeout: float = 3.0) -> bool:
        return kafka_answers(self.config.kafka_bootstrap, timeout)

    def java_tool(self, main_class: str, *args: str) -> list[str]:
        """argv to run one of the broker's own Java tools (console producer/consumer, …)."""
        return [
            require_program("java", "default-jre-headless"), "-Xmx256m",
            f"-Dlog4j2.configurationFile={TOOLS_LOG4J_CONFIG}", "-cp", self.classpath(), main_class, *args,
        ]  # fmt: skip


def min_heap(heap: str) -> str:
    """Start at half the maximum heap (a JVM that grows into its bound, not one that grabs it)."""
    match = re.fullmatch(r"(\d+)([kmgKMG]?)", heap)
    if not match:
        return heap
    size, unit = int(match.group(1)), match.group(2).lower()
    if unit == "g":
        size, unit = size * 1024, "m"
    return f"{max(1, size // 2)}{unit}"


# -- talking to a broker (ours or anyone's) -----------------------------------------------------
@contextlib.contextmanager
def _quiet_aiokafka() -> Iterator[None]:
    """Probing a broker that is not up yet makes aiokafka log connection errors; they are expected."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def _count_brokers(bootstrap: str, timeout: float) -> int:
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=max(1000, int(timeout * 1000)),
        metadata_max_age_ms=60_000,
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return len(client.cluster.brokers())
    finally:
        await client.close()


def kafka_answers(bootstrap: str, timeout: float = 3.0) -> bool:
    """True when a metadata request to `bootstrap` returns at least one broker."""
    with _quiet_aiokafka():
        try:
            return asyncio.run(_count_brokers(bootstrap, timeout)) > 0
        except Exception:  # any failure to answer is "does not answer"
            return False


def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Existing ones are left alone."""
    try:
        return asyncio.run(create_topics(bootstrap, list(specs)))
    except TopicAdminError as exc:
        raise InfraError(str(exc)) from exc
    except Exception as exc:
        raise UnreachableError(f"Kafka {bootstrap}: could not create topics: {exc!r}") from exc


def delete_topics(bootstrap: str, names: Iterable[str]) -> None:
    names = list(names)
    if names:
        asyncio.run(runtime_delete_topics(bootstrap, names))
