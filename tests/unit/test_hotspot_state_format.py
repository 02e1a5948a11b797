"""The hotspot table's bytes are a contract with the workers already running.

A worker restarted on new code reads the changelogged table written by the old one, so the keys
and values the engine stores must not change form. This pins a small scenario (two
organisations, a re-sent event, a late event, a clock tick, an episode fired and resolved, a
legacy ``#seen|`` chunk expired) to the exact bytes the production serializer
(:class:`~streams.hotspots.agent.TableState`) wrote before the engine was split into modules.
If this test fails, the state format changed: that needs a migration, not a new literal.
"""

from __future__ import annotations

import orjson

from streams.hotspots.agent import TableState
from streams.hotspots.engine import HotspotEngine, StagedState
from tests.support.hotspot_oracle import ACCESS, RULES, SAFE, T0, event

EXPECTED_CHANGELOG: list[bytes] = [
    b'0|#seen|0-0={"legacy-1":[0,1779996600]}',
    (
        b'0|ward-hopping|["RXX","Ward 1"]={"m":2,"b":{"1780000200":1},"s":[["e1",178000020'
        b'0]],"ep":null,"f":[],"g":{"1780000200":["org-a"]}}'
    ),
    (
        b'0|domain-hopping|["RXX","safe_high_quality_care"]={"m":2,"b":{"1780000200":1},"s'
        b'":[["e1",1780000200]],"ep":null,"f":[],"g":{"1780000200":["org-a"]}}'
    ),
    (
        b'0|domain-spc|["RXX","safe_high_quality_care"]={"m":2,"b":{"1780000200":1},"s":[['
        b'"e1",1780000200]],"ep":null,"f":[],"g":{"1780000200":["org-a"]}}'
    ),
    b'0|meta={"w":[[2,1780000200]],"o":1780000210,"open":{}}',
    b'0|#ids|2-2={"[\\"org-a\\",\\"e1\\"]":[2,1780000210]}',
    (
        b'0|ward-hopping|["RXX","Ward 1"]={"m":4,"b":{"1780000200":2},"s":[["e1",178000020'
        b'0],["e2",1780000200]],"ep":null,"f":[],"g":{"1780000200":["org-a","org-b"]}}'
    ),
    (
        b'0|domain-hopping|["RXX","safe_high_quality_care"]={"m":4,"b":{"1780000200":2},"s'
        b'":[["e1",1780000200],["e2",1780000200]],"ep":null,"f":[],"g":{"1780000200":["org'
        b'-a","org-b"]}}'
    ),
    (
        b'0|domain-hopping|["RXX","access_and_waiting"]={"m":4,"b":{"1780000200":1},"s":[['
        b'"e2",1780000200]],"ep":null,"f":[],"g":{"1780000200":["org-b"]}}'
    ),
    (
        b'0|domain-spc|["RXX","safe_high_quality_care"]={"m":4,"b":{"1780000200":2},"s":[['
        b'"e1",1780000200],["e2",1780000200]],"ep":null,"f":[],"g":{"1780000200":["org-a",'
        b'"org-b"]}}'
    ),
    (
        b'0|domain-spc|["RXX","access_and_waiting"]={"m":4,"b":{"1780000200":1},"s":[["e2"'
        b',1780000200]],"ep":null,"f":[],"g":{"1780000200":["org-b"]}}'
    ),
    b'0|#ids|4-4={"[\\"org-b\\",\\"e2\\"]":[4,1780000220]}',
    (
        b'0|ward-hopping|["RXX","Ward 1"]={"m":6,"b":{"1780000200":3},"s":[["e1",178000020'
        b'0],["e2",1780000200],["e3",1780000200]],"ep":null,"f":[],"g":{"1780000200":["org'
        b'-a","org-b"]}}'
    ),
    (
        b'0|incident-tumbling|["RXX","RXX01","Ward 1"]={"m":6,"b":{"1780000200":1},"s":[["'
        b'e3",1780000200]],"ep":null,"f":[],"g":{"1780000200":["org-a"]}}'
    ),
    (
        b'0|domain-hopping|["RXX","safe_high_quality_care"]={"m":6,"b":{"1780000200":3},"s'
        b'":[["e1",1780000200],["e2",1780000200],["e3",1780000200]],"ep":{"ws":1780000080,'
        b'"c":3,"th":3.0,"fa":1780000400.0,"ids":["e1","e2","e3"],"o":["org-a","org-b"]},"'
        b'f":[1780000080,1780000200],"g":{"1780000200":["org-a","org-b"]}}'
    ),
    (
        b'0|domain-spc|["RXX","safe_high_quality_care"]={"m":6,"b":{"1780000200":3},"s":[['
        b'"e1",1780000200],["e2",1780000200],["e3",1780000200]],"ep":null,"f":[],"g":{"178'
        b'0000200":["org-a","org-b"]}}'
    ),
    (
        b'0|meta={"w":[[2,1780000200]],"o":1780000210,"open":{"0|domain-hopping|[\\"RXX\\",\\'
        b'"safe_high_quality_care\\"]":"domain-hopping"}}'
    ),
    b'0|#ids|6-6={"[\\"org-a\\",\\"e3\\"]":[6,1780000230]}',
    (
        b'0|ward-hopping|["RXX","Ward 1"]={"m":8,"b":{"1780000200":4},"s":[["e1",178000020'
        b'0],["e2",1780000200],["e3",1780000200],["e4",1780000200]],"ep":{"ws":1779999660,'
        b'"c":4,"th":4.0,"fa":1780000500.0,"ids":["e1","e2","e3","e4"],"o":["org-a","org-b'
        b'"]},"f":[1779999660,1779999720,1779999780,1779999840,1779999900,1779999960,17800'
        b'00020,1780000080,1780000140,1780000200],"g":{"1780000200":["org-a","org-b"]}}'
    ),
    (
        b'0|incident-tumbling|["RXX","RXX01","Ward 1"]={"m":8,"b":{"1780000200":2},"s":[["'
        b'e3",1780000200],["e4",1780000200]],"ep":{"ws":1780000200,"c":2,"th":2.0,"fa":178'
        b'0000500.0,"ids":["e3","e4"],"o":["org-a"]},"f":[1780000200],"g":{"1780000200":["'
        b'org-a"]}}'
    ),
    (
        b'0|domain-hopping|["RXX","safe_high_quality_care"]={"m":8,"b":{"1780000200":4},"s'
        b'":[["e1",1780000200],["e2",1780000200],["e3",1780000200],["e4",1780000200]],"ep"'
        b':{"ws":1780000080,"c":4,"th":3.0,"fa":1780000400.0,"ids":["e1","e2","e3"],"o":["'
        b'org-a","org-b"]},"f":[1780000080,1780000200],"g":{"1780000200":["org-a","org-b"]'
        b"}}"
    ),
    (
        b'0|domain-spc|["RXX","safe_high_quality_care"]={"m":8,"b":{"1780000200":4},"s":[['
        b'"e1",1780000200],["e2",1780000200],["e3",1780000200],["e4",1780000200]],"ep":nul'
        b'l,"f":[],"g":{"1780000200":["org-a","org-b"]}}'
    ),
    (
        b'0|meta={"w":[[2,1780000200]],"o":1780000210,"open":{"0|domain-hopping|[\\"RXX\\",\\'
        b'"safe_high_quality_care\\"]":"domain-hopping","0|ward-hopping|[\\"RXX\\",\\"Ward 1\\"'
        b']":"ward-hopping","0|incident-tumbling|[\\"RXX\\",\\"RXX01\\",\\"Ward 1\\"]":"incident'
        b'-tumbling"}}'
    ),
    b'0|#ids|8-8={"[\\"org-a\\",\\"e4\\"]":[8,1780000240]}',
    (
        b'0|ward-hopping|["RXX","Ward 1"]={"m":12,"b":{"1780000200":4,"1780000260":1},"s":'
        b'[["e1",1780000200],["e2",1780000200],["e3",1780000200],["e4",1780000200],["e2",1'
        b'780000260]],"ep":{"ws":1779999660,"c":5,"th":4.0,"fa":1780000500.0,"ids":["e1","'
        b'e2","e3","e4"],"o":["org-a","org-b"]},"f":[1779999660,1779999720,1779999780,1779'
        b'999840,1779999900,1779999960,1780000020,1780000080,1780000140,1780000200],"g":{"'
        b'1780000200":["org-a","org-b"],"1780000260":["org-a"]}}'
    ),
    (
        b'0|domain-hopping|["RXX","safe_high_quality_care"]={"m":12,"b":{"1780000200":5},"'
        b's":[["e1",1780000200],["e2",1780000200],["e3",1780000200],["e4",1780000200],["e2'
        b'",1780000200]],"ep":{"ws":1780000080,"c":5,"th":3.0,"fa":1780000400.0,"ids":["e1'
        b'","e2","e3"],"o":["org-a","org-b"]},"f":[1780000080,1780000200],"g":{"1780000200'
        b'":["org-a","org-b"]}}'
    ),
    (
        b'0|domain-spc|["RXX","safe_high_quality_care"]={"m":12,"b":{"1780000200":5},"s":['
        b'["e1",1780000200],["e2",1780000200],["e3",1780000200],["e4",1780000200],["e2",17'
        b'80000200]],"ep":null,"f":[],"g":{"1780000200":["org-a","org-b"]}}'
    ),
    (
        b'0|meta={"w":[[2,1780000200],[12,1780000260]],"o":1780000210,"open":{"0|domain-ho'
        b'pping|[\\"RXX\\",\\"safe_high_quality_care\\"]":"domain-hopping","0|ward-hopping|[\\"'
        b'RXX\\",\\"Ward 1\\"]":"ward-hopping","0|incident-tumbling|[\\"RXX\\",\\"RXX01\\",\\"Ward'
        b' 1\\"]":"incident-tumbling"}}'
    ),
    b'0|#ids|12-12={"[\\"org-a\\",\\"e2\\"]":[12,1780000260]}',
    (
        b'0|ward-hopping|["RXX","Ward 2"]={"m":14,"b":{"1780000860":1},"s":[["e7",17800008'
        b'60]],"ep":null,"f":[],"g":{}}'
    ),
    (
        b'0|domain-hopping|["RXX","safe_high_quality_care"]={"m":14,"b":{"1780000800":1},"'
        b's":[["e7",1780000800]],"ep":null,"f":[],"g":{}}'
    ),
    (
        b'0|domain-spc|["RXX","safe_high_quality_care"]={"m":14,"b":{"1780000200":5,"17800'
        b'00800":1},"s":[["e1",1780000200],["e2",1780000200],["e3",1780000200],["e4",17800'
        b'00200],["e2",1780000200],["e7",1780000800]],"ep":null,"f":[],"g":{"1780000200":['
        b'"org-a","org-b"]}}'
    ),
    (
        b'0|incident-tumbling|["RXX","RXX01","Ward 1"]={"m":14,"b":{"1780000200":2},"s":[['
        b'"e3",1780000200],["e4",1780000200]],"ep":null,"f":[1780000200],"g":{"1780000200"'
        b':["org-a"]}}'
    ),
    (
        b'0|ward-hopping|["RXX","Ward 1"]={"m":14,"b":{"1780000200":4,"1780000260":1},"s":'
        b'[["e1",1780000200],["e2",1780000200],["e3",1780000200],["e4",1780000200],["e2",1'
        b'780000260]],"ep":null,"f":[1779999660,1779999720,1779999780,1779999840,177999990'
        b'0,1779999960,1780000020,1780000080,1780000140,1780000200],"g":{"1780000200":["or'
        b'g-a","org-b"],"1780000260":["org-a"]}}'
    ),
    (b'0|meta={"w":[[2,1780000200],[12,1780000260],[14,1780000860]],"o":1780000210,"open":{}}'),
    b'0|#ids|14-14={"[\\"\\",\\"e7\\"]":[14,1780000900]}',
    b"0|#ids|4-4 deleted",
    b"0|#seen|0-0 deleted",
    b"0|#ids|8-8 deleted",
    b"0|#ids|2-2 deleted",
    b"0|#ids|6-6 deleted",
    b"0|#ids|12-12 deleted",
    (
        b'0|ward-hopping|["RXX","Ward 1"]={"m":16,"b":{"1780000200":4,"1780000260":1,"1780'
        b'000560":1},"s":[["e1",1780000200],["e2",1780000200],["e3",1780000200],["e4",1780'
        b'000200],["e2",1780000260],["e8",1780000560]],"ep":null,"f":[1780000020,178000008'
        b'0,1780000140,1780000200],"g":{"1780000200":["org-a","org-b"],"1780000260":["org-'
        b'a"],"1780000560":["org-c"]}}'
    ),
    (
        b'0|domain-hopping|["RXX","safe_high_quality_care"]={"m":16,"b":{"1780000800":1,"1'
        b'780000560":1},"s":[["e7",1780000800],["e8",1780000560]],"ep":null,"f":[],"g":{"1'
        b'780000560":["org-c"]}}'
    ),
    (
        b'0|domain-spc|["RXX","safe_high_quality_care"]={"m":16,"b":{"1780000200":5,"17800'
        b'00800":1,"1780000560":1},"s":[["e1",1780000200],["e2",1780000200],["e3",17800002'
        b'00],["e4",1780000200],["e2",1780000200],["e7",1780000800],["e8",1780000560]],"ep'
        b'":null,"f":[],"g":{"1780000200":["org-a","org-b"],"1780000560":["org-c"]}}'
    ),
    b'0|#ids|16-16={"[\\"org-c\\",\\"e8\\"]":[16,1780000600]}',
    (
        b'0|meta={"w":[[2,1780000200],[12,1780000260],[14,1780000860],[19,1780001460]],"o"'
        b':1780000210,"open":{}}'
    ),
    b"0|#ids|14-14 deleted",
    b"0|#ids|16-16 deleted",
    (
        b'0|ward-hopping|["RXX","Ward 3"]={"m":20,"b":{"1780001460":1},"s":[["legacy-1",17'
        b'80001460]],"ep":null,"f":[],"g":{}}'
    ),
    (
        b'0|domain-hopping|["RXX","safe_high_quality_care"]={"m":20,"b":{"1780001400":1},"'
        b's":[["legacy-1",1780001400]],"ep":null,"f":[],"g":{}}'
    ),
    (
        b'0|domain-spc|["RXX","safe_high_quality_care"]={"m":20,"b":{"1780000800":1,"17800'
        b'00560":1,"1780001400":1},"s":[["e7",1780000800],["e8",1780000560],["legacy-1",17'
        b'80001400]],"ep":null,"f":[],"g":{"1780000560":["org-c"]}}'
    ),
    b'0|#ids|20-20={"[\\"\\",\\"legacy-1\\"]":[20,1780001510]}',
]
EXPECTED_ALERTS = (
    b'[{"alert_id":"85d1a7c9c7a42276bd9906e5892c04cb","count":3,"description":"Hotspot'
    b' rule domain-hopping","fired_at":"2026-05-28T20:33:20.000Z","group":{"domain":"s'
    b'afe_high_quality_care","provider":"RXX"},"organisations":["org-a","org-b"],"reso'
    b'lved_at":null,"rule_id":"domain-hopping","sample_event_ids":["e1","e2","e3"],"se'
    b'verity":"warning","status":"firing","threshold":3,"window_end":"2026-05-28T20:32'
    b':00.000Z","window_start":"2026-05-28T20:28:00.000Z"},{"alert_id":"6d9e331e1ad132'
    b'1cd6e444499964a2a4","count":4,"description":"Hotspot rule ward-hopping","fired_a'
    b't":"2026-05-28T20:35:00.000Z","group":{"provider":"RXX","ward":"Ward 1"},"organi'
    b'sations":["org-a","org-b"],"resolved_at":null,"rule_id":"ward-hopping","sample_e'
    b'vent_ids":["e1","e2","e3","e4"],"severity":"warning","status":"firing","threshol'
    b'd":4,"window_end":"2026-05-28T20:31:00.000Z","window_start":"2026-05-28T20:21:00'
    b'.000Z"},{"alert_id":"7bcf44eae2de440a1828276288895218","count":2,"description":"'
    b'Hotspot rule incident-tumbling","fired_at":"2026-05-28T20:35:00.000Z","group":{"'
    b'provider":"RXX","site":"RXX01","ward":"Ward 1"},"organisations":["org-a"],"resol'
    b'ved_at":null,"rule_id":"incident-tumbling","sample_event_ids":["e3","e4"],"sever'
    b'ity":"critical","status":"firing","threshold":2,"window_end":"2026-05-28T20:35:0'
    b'0.000Z","window_start":"2026-05-28T20:30:00.000Z"},{"alert_id":"85d1a7c9c7a42276'
    b'bd9906e5892c04cb","count":5,"description":"Hotspot rule domain-hopping","fired_a'
    b't":"2026-05-28T20:33:20.000Z","group":{"domain":"safe_high_quality_care","provid'
    b'er":"RXX"},"organisations":["org-a","org-b"],"resolved_at":"2026-05-28T20:40:00.'
    b'000Z","rule_id":"domain-hopping","sample_event_ids":["e1","e2","e3"],"severity":'
    b'"warning","status":"resolved","threshold":3,"window_end":"2026-05-28T20:32:00.00'
    b'0Z","window_start":"2026-05-28T20:28:00.000Z"},{"alert_id":"7bcf44eae2de440a1828'
    b'276288895218","count":2,"description":"Hotspot rule incident-tumbling","fired_at'
    b'":"2026-05-28T20:35:00.000Z","group":{"provider":"RXX","site":"RXX01","ward":"Wa'
    b'rd 1"},"organisations":["org-a"],"resolved_at":"2026-05-28T20:40:00.000Z","rule_'
    b'id":"incident-tumbling","sample_event_ids":["e3","e4"],"severity":"critical","st'
    b'atus":"resolved","threshold":2,"window_end":"2026-05-28T20:35:00.000Z","window_s'
    b'tart":"2026-05-28T20:30:00.000Z"},{"alert_id":"6d9e331e1ad1321cd6e444499964a2a4"'
    b',"count":5,"description":"Hotspot rule ward-hopping","fired_at":"2026-05-28T20:3'
    b'5:00.000Z","group":{"provider":"RXX","ward":"Ward 1"},"organisations":["org-a","'
    b'org-b"],"resolved_at":"2026-05-28T20:40:00.000Z","rule_id":"ward-hopping","sampl'
    b'e_event_ids":["e1","e2","e3","e4"],"severity":"warning","status":"resolved","thr'
    b'eshold":4,"window_end":"2026-05-28T20:31:00.000Z","window_start":"2026-05-28T20:'
    b'21:00.000Z"}]'
)


class Changelog(dict[bytes, bytes]):
    """A table that also records every write and delete in order, as Faust's changelog would."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[bytes] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.records.append(key + b"=" + value)
        super().__setitem__(key, value)

    def __delitem__(self, key: bytes) -> None:
        self.records.append(key + b" deleted")
        super().__delitem__(key)


def scenario() -> tuple[Changelog, list[dict]]:
    table = Changelog()
    state = TableState(table)
    # A chunk from before identities carried the organisation: read, then expired.
    state["0|#seen|0-0"] = {"legacy-1": [0, T0 - 3600]}
    engine = HotspotEngine(RULES, state, partition=0)
    inputs = [
        ("e", 1, event(1, T0 + 10, organisation="org-a")),
        ("e", 2, event(2, T0 + 20, organisation="org-b", domains=(SAFE, ACCESS))),
        ("e", 3, event(3, T0 + 30, source="incident", organisation="org-a")),
        ("e", 4, event(4, T0 + 40, source="incident", organisation="org-a")),
        ("e", 5, event(5, T0 + 50, organisation="org-b", event_id="e2")),  # re-sent by org-b
        ("e", 6, event(6, T0 + 60, organisation="org-a", event_id="e2")),  # same id, other org
        ("e", 7, event(7, T0 + 700, ward="Ward 2")),
        ("e", 8, event(8, T0 + 400, organisation="org-c")),  # late, still allowed
        ("e", 9, event(9, T0 + 5, ward="Ward 2")),  # too late for every rule
        ("t", 9, T0 + 1300),
        ("e", 10, event(10, T0 + 1310, ward="Ward 3", event_id="legacy-1")),
    ]
    alerts: list[dict] = []
    for index, (kind, position, payload) in enumerate(inputs):
        staged = StagedState(state)
        engine.state = staged
        if kind == "e":
            alerts += engine.on_event(payload, position, now=float(T0 + 100 * index))
        else:
            alerts += engine.on_tick(payload, position, now=float(T0 + 100 * index))
        engine.end_batch(position + 1 if index >= 6 else None)
        staged.commit()
        engine.state = state
    return table, alerts


def in_stable_order(records: list[bytes]) -> list[bytes]:
    """Each run of deletes sorted: StagedState.commit deletes from a set, in hash-seed order."""
    ordered: list[bytes] = []
    run: list[bytes] = []
    for record in [*records, b""]:
        if record.endswith(b" deleted"):
            run.append(record)
            continue
        ordered += sorted(run)
        run = []
        if record:
            ordered.append(record)
    return ordered


def test_changelog_bytes_are_those_the_previous_engine_wrote() -> None:
    table, _ = scenario()
    assert in_stable_order(table.records) == in_stable_order(EXPECTED_CHANGELOG)


def test_alerts_are_those_the_previous_engine_sent() -> None:
    _, alerts = scenario()
    assert orjson.dumps(alerts, option=orjson.OPT_SORT_KEYS) == EXPECTED_ALERTS
