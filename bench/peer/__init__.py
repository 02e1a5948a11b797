"""The Quix Streams peer of `pxstream bench` (docs/benchmarks.md, "The Quix Streams peer"): the same
work as pxstream's hotspot and stateless stages, on Quix Streams, on the same events and broker,
measured in the same run so the summary can give a ratio. An optional extra (`pip install .[peer]`);
nothing outside bench/peer/ imports Quix Streams, and the runtime packages never import bench/."""
