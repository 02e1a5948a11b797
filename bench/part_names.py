"""The names of `pxstream bench`'s parts, in the order they run (docs/benchmarks.md)."""

# Goal 1's pair and goal 3's pair run back to back, so the machine's load drifts least between them.
GOAL_PART_ORDER = (
    "hotspot-engine,hotspot-stage,peer-hotspots,stateless,peer-stateless,redaction,latency,scaling"
)
DEFAULT_PARTS = "ceiling," + GOAL_PART_ORDER
ALL_PARTS = DEFAULT_PARTS + ",pipeline,sink,import,tagging,actions"
