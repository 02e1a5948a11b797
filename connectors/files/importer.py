"""Importing one export file: read rows, convert, send new rows to Kafka, report rejected ones.

Rows stream through in batches: convert a batch, drop what the ledger says was already sent
unchanged, send, and record in the ledger only once Kafka acknowledged the batch. The send of
one batch overlaps with converting the next. The rejected-rows report is written as rows are
rejected, so a huge export with a systematic problem does not pile up reasons in memory.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from connectors.files.convert import Rejection, RowConverter
from connectors.files.ledger import ImportLedger, file_digest
from connectors.files.mapping import Mapping
from connectors.files.readers import Cell, Position, read_rows
from connectors.producer import FeedbackProducer
from schemas import topics
from schemas.feedback_event import FeedbackEvent

log = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]  # (rows read, position done, position total)
REPORT_HEADER = ("row", "column", "field", "reason")


@dataclass(frozen=True)
class ImportResult:
    file: Path
    rows: int  # data rows read
    sent: int  # events sent to Kafka (new or changed)
    unchanged: int  # valid rows the ledger shows were already sent as they are
    rejected_rows: int
    rejections: int  # problems found (a row can have several)
    report: Path | None
    already_imported: str | None  # when the whole file was skipped: the earlier import's time
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


_CHUNK_ROWS = 500


def _convert_chunk(
    rows: Iterator[tuple[int, dict[str, Cell]]], converter: RowConverter, size: int
) -> list[tuple[FeedbackEvent | None, list[Rejection]]]:
    return [converter.convert(number, row) for number, row in itertools.islice(rows, size)]


def default_report_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejected.csv")


class _NoProducer:
    """Stands in for Kafka in a dry run: validates and reports, sends nothing."""

    async def send_many(self, events: list[FeedbackEvent]) -> int:
        return len(events)


async def import_file(
    path: Path,
    mapping: Mapping,
    *,
    bootstrap: str,
    data_dir: Path,
    topic: str = topics.RAW,
    report_path: Path | None = None,
    progress: Progress | None = None,
    batch_size: int = 2000,
    force: bool = False,
    dry_run: bool = False,
) -> ImportResult:
    path = Path(path)
    started = time.perf_counter()
    report_path = report_path or default_report_path(path)
    position = Position()
    rows_iter = read_rows(path, mapping, position)  # refuses a missing file / unknown type now
    file_sha = file_digest(path)
    with ImportLedger(data_dir, mapping.name) as ledger:
        earlier = None if force or dry_run else ledger.completed(file_sha, mapping.digest)
        if earlier is not None:
            log.info("%s is unchanged since its import at %s; nothing to send", path, earlier[1])
            return ImportResult(path, 0, 0, 0, 0, 0, None, earlier[1], time.perf_counter() - started)

        converter = RowConverter(mapping)
        rows = sent = unchanged = rejected_rows = rejections = 0
        batch: list[FeedbackEvent] = []
        in_flight: tuple[asyncio.Task[int], list] | None = None

        async def settle() -> None:
            nonlocal in_flight, sent
            if in_flight is not None:
                task, items = in_flight
                in_flight = None
                sent += await task
                if not dry_run:
                    ledger.record(items)

        async def flush(producer: FeedbackProducer | _NoProducer) -> None:
            nonlocal batch, unchanged, in_flight
            if not batch:
                return
            to_send = [(event, b"") for event in batch] if force else ledger.unsent(batch)
            unchanged += len(batch) - len(to_send)
            batch = []
            await settle()
            if to_send:
                task = asyncio.ensure_future(producer.send_many([e for e, _ in to_send]))  # noqa: RUF006
                in_flight = (task, to_send)

        async def run(producer: FeedbackProducer | _NoProducer) -> None:
            nonlocal rows, rejected_rows, rejections
            with report_path.open("w", newline="", encoding="utf-8") as report_file:
                report = csv.writer(report_file)
                report.writerow(REPORT_HEADER)
                try:
                    while True:
                        # Reading and converting run in a worker thread so the event loop stays free
                        # to push the batch in flight to Kafka and take its acknowledgements meanwhile.
                        chunk = await asyncio.to_thread(_convert_chunk, rows_iter, converter, _CHUNK_ROWS)
                        if not chunk:
                            break
                        for event, problems in chunk:
                            rows += 1
                            if problems:
                                rejected_rows += 1
                                rejections += len(problems)
                                report.writerows((p.row, p.column, p.field, p.reason) for p in problems)
                            else:
                                batch.append(event)  # type: ignore[arg-type]
                            if len(batch) >= batch_size:
                                await flush(producer)
                        if progress is not None:
                            progress(rows, position.done, position.total)
                    await flush(producer)
                    await settle()
                except BaseException:
                    if in_flight is not None:
                        in_flight[0].cancel()
                    raise
            if progress is not None:
                progress(rows, position.total, position.total)

        if dry_run:
            await run(_NoProducer())
        else:
            async with FeedbackProducer(bootstrap, topic=topic, client_id="pxstream-file-import") as producer:
                await run(producer)
            ledger.finish(file_sha, mapping.digest, path.name, rows, sent, rejected_rows)
    return ImportResult(
        path,
        rows,
        sent,
        unchanged,
        rejected_rows,
        rejections,
        report_path,
        None,
        time.perf_counter() - started,
    )
