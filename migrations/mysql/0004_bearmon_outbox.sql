-- The alert outbox: one row per (flip, contact), written in the flip's fenced transaction,
-- delivered by the controller's dispatcher. A row is claimed by a conditional update (state,
-- lease, claiming term) so two controllers never send it at once; every attempt is kept.
-- idem_key ("bm-<event id>-<contact id>") travels with each notification.
CREATE TABLE IF NOT EXISTS bearmon_outbox (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	event_id BIGINT NOT NULL,
	check_id INT NOT NULL,
	contact_id INT NOT NULL,
	idem_key VARCHAR(64) NOT NULL,
	state VARCHAR(16) NOT NULL DEFAULT 'pending',
	to_status VARCHAR(8) NOT NULL,
	check_name VARCHAR(255) NOT NULL DEFAULT '',
	check_type VARCHAR(16) NOT NULL DEFAULT '',
	check_data TEXT NOT NULL,
	message TEXT NOT NULL,
	incident BIGINT NOT NULL DEFAULT 0,
	incident_at BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	next_attempt_at BIGINT NOT NULL,
	attempts INT NOT NULL DEFAULT 0,
	claim_term BIGINT NOT NULL DEFAULT 0,
	claimed_until BIGINT NOT NULL DEFAULT 0,
	sent_at BIGINT NOT NULL DEFAULT 0,
	last_error TEXT,
	UNIQUE KEY bearmon_outbox_event_contact (event_id, contact_id),
	KEY bearmon_outbox_due (state, next_attempt_at),
	KEY bearmon_outbox_check (check_id, event_id)
);

CREATE TABLE IF NOT EXISTS bearmon_outbox_attempts (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	outbox_id BIGINT NOT NULL,
	at BIGINT NOT NULL,
	term BIGINT NOT NULL,
	outcome VARCHAR(16) NOT NULL,
	error TEXT,
	KEY bearmon_outbox_attempts_outbox (outbox_id)
);
