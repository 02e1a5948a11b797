"""Faust's table manager without its one-second wait at every start: pxstream keeps no Faust table.

Faust 0.15.3's `TableManager.on_start` sleeps 1 s before it subscribes to the changelogs of the
tables registered by then (faust/tables/manager.py), so that tables declared while the app starts
are not missed. No pxstream stage keeps a Faust table (the hotspot stage's state is in memory and in
its own changelog topic, docs/hotspot-speed.md), so that second was a second of every worker start
spent waiting for nothing: of every restart after `kill -9`, of every takeover, of every test that
starts a worker (docs/test-speed.md). This manager starts at once, and refuses a table, so the wait
cannot become necessary again without someone noticing.

Imported only by `streams.app.create_app` (it imports Faust).
"""

from __future__ import annotations

from typing import Any

from faust.tables import TableManager


class NoTablesManager(TableManager):  # type: ignore[misc]  # Faust's classes are untyped
    """`App(..., TableManager=NoTablesManager)`: recovery starts without Faust's 1 s wait."""

    def add(self, table: Any) -> Any:
        raise RuntimeError(
            f"Faust table {getattr(table, 'name', table)!r}: pxstream's worker keeps no Faust table "
            "(streams/no_tables.py); a table needs Faust's own TableManager and its start-up wait"
        )

    async def on_start(self) -> None:
        # Faust's on_start, minus `await self.sleep(1.0)`: no table can be registered (see `add`).
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
