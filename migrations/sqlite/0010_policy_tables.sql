-- Shinken's notification logic, part 1 (SPEC §10): per-check and per-contact options,
-- timeperiods, escalations, scheduled downtime and acknowledgements. NULL options and empty
-- tables mean gobearmon's behaviour. Times are timestamps (UTC text), so CURRENT_TIMESTAMP
-- works in an operator's INSERT.
ALTER TABLE checks ADD COLUMN options TEXT NULL;
ALTER TABLE contacts ADD COLUMN options TEXT NULL;

CREATE TABLE IF NOT EXISTS timeperiods (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name VARCHAR(128) NOT NULL UNIQUE,
	definition TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS escalations (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	check_id INT NULL,
	contact_id INT NOT NULL,
	first_notification INT NOT NULL DEFAULT 0,
	last_notification INT NOT NULL DEFAULT 0,
	first_notification_time INT NOT NULL DEFAULT 0,
	last_notification_time INT NOT NULL DEFAULT 0,
	notification_interval INT NULL,
	escalation_period VARCHAR(128) NULL,
	escalation_options VARCHAR(32) NULL
);
CREATE INDEX IF NOT EXISTS escalations_check_id ON escalations (check_id);

CREATE TABLE IF NOT EXISTS downtimes (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	check_id INT NOT NULL,
	start_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
	end_time TIMESTAMP NOT NULL,
	fixed INT NOT NULL DEFAULT 1,
	duration INT NOT NULL DEFAULT 0,
	trigger_id INT NULL,
	author VARCHAR(128) NOT NULL DEFAULT '',
	comment TEXT NULL,
	cancelled INT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS downtimes_check_id ON downtimes (check_id);

CREATE TABLE IF NOT EXISTS acknowledgements (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	check_id INT NOT NULL,
	author VARCHAR(128) NOT NULL DEFAULT '',
	comment TEXT NULL,
	sticky INT NOT NULL DEFAULT 0,
	notify INT NOT NULL DEFAULT 1,
	created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS acknowledgements_check_id ON acknowledgements (check_id);

CREATE TRIGGER bearmon_timeperiods_ins AFTER INSERT ON timeperiods BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('timeperiods', NEW.id); END;
CREATE TRIGGER bearmon_timeperiods_upd AFTER UPDATE ON timeperiods BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('timeperiods', NEW.id); END;
CREATE TRIGGER bearmon_timeperiods_del AFTER DELETE ON timeperiods BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('timeperiods', OLD.id); END;
CREATE TRIGGER bearmon_escalations_ins AFTER INSERT ON escalations BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('escalations', NEW.id); END;
CREATE TRIGGER bearmon_escalations_upd AFTER UPDATE ON escalations BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('escalations', NEW.id); END;
CREATE TRIGGER bearmon_escalations_del AFTER DELETE ON escalations BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('escalations', OLD.id); END;
CREATE TRIGGER bearmon_downtimes_ins AFTER INSERT ON downtimes BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('downtimes', NEW.id); END;
CREATE TRIGGER bearmon_downtimes_upd AFTER UPDATE ON downtimes BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('downtimes', NEW.id); END;
CREATE TRIGGER bearmon_downtimes_del AFTER DELETE ON downtimes BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('downtimes', OLD.id); END;
CREATE TRIGGER bearmon_acknowledgements_ins AFTER INSERT ON acknowledgements BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('acknowledgements', NEW.id); END;
CREATE TRIGGER bearmon_acknowledgements_upd AFTER UPDATE ON acknowledgements BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('acknowledgements', NEW.id); END;
CREATE TRIGGER bearmon_acknowledgements_del AFTER DELETE ON acknowledgements BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('acknowledgements', OLD.id); END;

-- A notification is now one of Nagios's types and the n-th of its problem, and a problem
-- may be notified again: the key that makes a row unique is its idem_key. SQLite cannot drop
-- the old UNIQUE (event_id, contact_id), so the table is rebuilt without it.
CREATE TABLE bearmon_outbox_new (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id BIGINT NOT NULL,
	check_id INT NOT NULL,
	contact_id INT NOT NULL,
	idem_key VARCHAR(64) NOT NULL UNIQUE,
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
	notification_type VARCHAR(24) NOT NULL DEFAULT '',
	notification_number INT NOT NULL DEFAULT 0
);
INSERT INTO bearmon_outbox_new (id, event_id, check_id, contact_id, idem_key, state, to_status, check_name,
	check_type, check_data, message, incident, incident_at, created_at, next_attempt_at, attempts, claim_term,
	claimed_until, sent_at, last_error)
	SELECT id, event_id, check_id, contact_id, idem_key, state, to_status, check_name, check_type, check_data,
	message, incident, incident_at, created_at, next_attempt_at, attempts, claim_term, claimed_until, sent_at,
	last_error FROM bearmon_outbox;
DROP TABLE bearmon_outbox;
ALTER TABLE bearmon_outbox_new RENAME TO bearmon_outbox;
CREATE INDEX IF NOT EXISTS bearmon_outbox_due ON bearmon_outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS bearmon_outbox_check ON bearmon_outbox (check_id, event_id);
