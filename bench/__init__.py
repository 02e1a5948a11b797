"""The benchmarks, out of the runtime packages: `pxstream bench` (bench/cli.py) measures the
broker's ceiling, the pipeline, alert latency, the ClickHouse sink and the CSV import on this
machine; bench/harness.py is the worker-as-a-child-process harness the integration tests share."""
