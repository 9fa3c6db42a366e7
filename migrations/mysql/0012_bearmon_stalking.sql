-- State stalking (stalking_options, SPEC §10): every change of a check's output while its
-- state stays one of the stalked states, kept as an event the API and the page show,
-- without a notification. Written by the controller under its fence; pruned with the outbox.
CREATE TABLE IF NOT EXISTS bearmon_stalking (
	id BIGINT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	check_id INT NOT NULL,
	at BIGINT NOT NULL,
	state VARCHAR(16) NOT NULL,
	output TEXT NOT NULL
);
CREATE INDEX bearmon_stalking_check ON bearmon_stalking (check_id, id);
