-- Shinken's notification logic, part 1 (SPEC §10): per-check and per-contact options,
-- timeperiods, escalations, scheduled downtime and acknowledgements. NULL options and empty
-- tables mean gobearmon's behaviour. Times are the backend's timestamps (UTC), so
-- CURRENT_TIMESTAMP and now() work in an operator's INSERT.
ALTER TABLE checks ADD COLUMN IF NOT EXISTS options TEXT NULL;
ALTER TABLE contacts ADD COLUMN IF NOT EXISTS options TEXT NULL;

CREATE TABLE IF NOT EXISTS timeperiods (
	id SERIAL PRIMARY KEY,
	name VARCHAR(128) NOT NULL UNIQUE,
	definition TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS escalations (
	id SERIAL PRIMARY KEY,
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
	id SERIAL PRIMARY KEY,
	check_id INT NOT NULL,
	start_time TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
	end_time TIMESTAMPTZ NOT NULL,
	fixed SMALLINT NOT NULL DEFAULT 1,
	duration INT NOT NULL DEFAULT 0,
	trigger_id INT NULL,
	author VARCHAR(128) NOT NULL DEFAULT '',
	comment TEXT NULL,
	cancelled SMALLINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS downtimes_check_id ON downtimes (check_id);

CREATE TABLE IF NOT EXISTS acknowledgements (
	id SERIAL PRIMARY KEY,
	check_id INT NOT NULL,
	author VARCHAR(128) NOT NULL DEFAULT '',
	comment TEXT NULL,
	sticky SMALLINT NOT NULL DEFAULT 0,
	notify SMALLINT NOT NULL DEFAULT 1,
	created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS acknowledgements_check_id ON acknowledgements (check_id);

CREATE TRIGGER bearmon_timeperiods_change AFTER INSERT OR UPDATE OR DELETE ON timeperiods
	FOR EACH ROW EXECUTE FUNCTION bearmon_log_row_change();
CREATE TRIGGER bearmon_escalations_change AFTER INSERT OR UPDATE OR DELETE ON escalations
	FOR EACH ROW EXECUTE FUNCTION bearmon_log_row_change();
CREATE TRIGGER bearmon_downtimes_change AFTER INSERT OR UPDATE OR DELETE ON downtimes
	FOR EACH ROW EXECUTE FUNCTION bearmon_log_row_change();
CREATE TRIGGER bearmon_acknowledgements_change AFTER INSERT OR UPDATE OR DELETE ON acknowledgements
	FOR EACH ROW EXECUTE FUNCTION bearmon_log_row_change();

-- A notification is now one of Nagios's types and the n-th of its problem, and a problem
-- may be notified again (re-notification, escalation): the key that makes a row unique is
-- its idem_key, which names the event, the contact and (past the first) type and number.
ALTER TABLE bearmon_outbox ADD COLUMN IF NOT EXISTS notification_type VARCHAR(24) NOT NULL DEFAULT '';
ALTER TABLE bearmon_outbox ADD COLUMN IF NOT EXISTS notification_number INT NOT NULL DEFAULT 0;
ALTER TABLE bearmon_outbox DROP CONSTRAINT IF EXISTS bearmon_outbox_event_id_contact_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS bearmon_outbox_idem ON bearmon_outbox (idem_key);
