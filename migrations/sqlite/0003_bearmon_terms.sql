-- Controller terms: one row whose term only grows. A controller claims a term by
-- incrementing it; every commit it makes first updates this row WHERE term = its own, in the
-- same transaction, so a deposed controller's writes change nothing (the fence).
CREATE TABLE IF NOT EXISTS bearmon_term (
	id INT NOT NULL PRIMARY KEY,
	term BIGINT NOT NULL DEFAULT 0,
	holder VARCHAR(128) NOT NULL DEFAULT '',
	commits BIGINT NOT NULL DEFAULT 0,
	renewed_at BIGINT NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO bearmon_term (id, term) VALUES (1, 0);

-- Confirmation progress that must survive a failover: the streak of contrary rounds.
CREATE TABLE IF NOT EXISTS bearmon_check_state (
	check_id INT NOT NULL PRIMARY KEY,
	streak INT NOT NULL DEFAULT 0,
	term BIGINT NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL DEFAULT 0
);
