-- Which batch wrote each event row (a 64-bit digest of its de-duplication token). The duplicate check then
-- leaves out exactly the ids stored by *other* batches, while rows stored by an earlier attempt
-- of this very batch stay in it and are dropped by the engine through the batch's
-- insert_deduplication_token - so the views see every part exactly once, even when a previous
-- attempt died half-way.
ALTER TABLE feedback_events ADD COLUMN IF NOT EXISTS sink_batch UInt64 AFTER kafka_offset;
