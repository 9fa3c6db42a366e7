-- The connection that last opened a fenced transaction (MySQL's CONNECTION_ID(), written by
-- the transaction's first statement). MySQL 8 has no idle-transaction timeout: a claimant
-- that waits too long for the term row reads this (uncommitted) value and ends that
-- connection, so a controller frozen inside a transaction cannot hold the row for hours.
ALTER TABLE bearmon_term ADD COLUMN holder_conn BIGINT NOT NULL DEFAULT 0;
