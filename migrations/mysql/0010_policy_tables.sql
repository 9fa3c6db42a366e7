-- Shinken's notification logic, part 1 (SPEC §10): per-check and per-contact options,
-- timeperiods, escalations, scheduled downtime and acknowledgements. NULL options and empty
-- tables mean gobearmon's behaviour. Times are the backend's timestamps, so
-- CURRENT_TIMESTAMP works in an operator's INSERT.
ALTER TABLE checks ADD COLUMN options TEXT NULL;
ALTER TABLE contacts ADD COLUMN options TEXT NULL;

CREATE TABLE IF NOT EXISTS timeperiods (
	id INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	name VARCHAR(128) NOT NULL UNIQUE,
	definition TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS escalations (
	id INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	check_id INT NULL,
	contact_id INT NOT NULL,
	first_notification INT NOT NULL DEFAULT 0,
	last_notification INT NOT NULL DEFAULT 0,
	first_notification_time INT NOT NULL DEFAULT 0,
	last_notification_time INT NOT NULL DEFAULT 0,
	notification_interval INT NULL,
	escalation_period VARCHAR(128) NULL,
	escalation_options VARCHAR(32) NULL,
	INDEX escalations_check_id (check_id)
);

CREATE TABLE IF NOT EXISTS downtimes (
	id INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	check_id INT NOT NULL,
	start_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	end_time DATETIME NOT NULL,
	fixed TINYINT(1) NOT NULL DEFAULT 1,
	duration INT NOT NULL DEFAULT 0,
	trigger_id INT NULL,
	author VARCHAR(128) NOT NULL DEFAULT '',
	comment TEXT NULL,
	cancelled TINYINT(1) NOT NULL DEFAULT 0,
	INDEX downtimes_check_id (check_id)
);

CREATE TABLE IF NOT EXISTS acknowledgements (
	id INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	check_id INT NOT NULL,
	author VARCHAR(128) NOT NULL DEFAULT '',
	comment TEXT NULL,
	sticky TINYINT(1) NOT NULL DEFAULT 0,
	notify TINYINT(1) NOT NULL DEFAULT 1,
	created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	INDEX acknowledgements_check_id (check_id)
);

CREATE TRIGGER bearmon_timeperiods_ins AFTER INSERT ON timeperiods FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('timeperiods', NEW.id);
CREATE TRIGGER bearmon_timeperiods_upd AFTER UPDATE ON timeperiods FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('timeperiods', NEW.id);
CREATE TRIGGER bearmon_timeperiods_del AFTER DELETE ON timeperiods FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('timeperiods', OLD.id);
CREATE TRIGGER bearmon_escalations_ins AFTER INSERT ON escalations FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('escalations', NEW.id);
CREATE TRIGGER bearmon_escalations_upd AFTER UPDATE ON escalations FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('escalations', NEW.id);
CREATE TRIGGER bearmon_escalations_del AFTER DELETE ON escalations FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('escalations', OLD.id);
CREATE TRIGGER bearmon_downtimes_ins AFTER INSERT ON downtimes FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('downtimes', NEW.id);
CREATE TRIGGER bearmon_downtimes_upd AFTER UPDATE ON downtimes FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('downtimes', NEW.id);
CREATE TRIGGER bearmon_downtimes_del AFTER DELETE ON downtimes FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('downtimes', OLD.id);
CREATE TRIGGER bearmon_acknowledgements_ins AFTER INSERT ON acknowledgements FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('acknowledgements', NEW.id);
CREATE TRIGGER bearmon_acknowledgements_upd AFTER UPDATE ON acknowledgements FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('acknowledgements', NEW.id);
CREATE TRIGGER bearmon_acknowledgements_del AFTER DELETE ON acknowledgements FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('acknowledgements', OLD.id);

-- A notification is now one of Nagios's types and the n-th of its problem, and a problem
-- may be notified again (re-notification, escalation): the key that makes a row unique is
-- its idem_key, which names the event, the contact and (past the first) type and number.
ALTER TABLE bearmon_outbox ADD COLUMN notification_type VARCHAR(24) NOT NULL DEFAULT '';
ALTER TABLE bearmon_outbox ADD COLUMN notification_number INT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX bearmon_outbox_idem ON bearmon_outbox (idem_key);
ALTER TABLE bearmon_outbox DROP INDEX bearmon_outbox_event_contact;
