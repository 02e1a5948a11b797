"""Hotspot detection: windowed counts on event time, threshold and SPC rules, alert episodes.

Layers, each testable without the one below it: ``rules`` (the YAML file), ``windows``
(bucket arithmetic), ``engine`` (pure per-partition state machine), ``alerts`` (Alert v1),
``alertmanager`` (Alert v1 → Alertmanager), ``pusher`` (a tenant of the Kafka runtime's loop),
``table_state``, ``changelog`` and ``metrics`` (between the stored state and the engine),
``stage`` (the counting stage, a tenant of the runtime's loop) and ``agent`` (hosting it in the
worker: :func:`streams.hotspots.agent.attach`).
"""
