"""Test support shared by the unit and integration tiers: waiting on conditions, Kafka recounts
over the runtime's own plumbing (runtime/), the hotspot harness, connector doubles."""
