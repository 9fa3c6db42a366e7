-- One row per flip a controller committed, keyed by what the controller knows before it
-- writes ("t<term>-f<n>": the term and the n-th flip it made), written in the flip's fenced transaction. A commit
-- whose acknowledgement was lost (the connection broke after COMMIT) is retried with the
-- same key and finds it here, so the retry changes nothing instead of flipping twice.
CREATE TABLE IF NOT EXISTS bearmon_flip_keys (
	flip_key VARCHAR(64) NOT NULL PRIMARY KEY,
	event_id BIGINT NOT NULL
);
