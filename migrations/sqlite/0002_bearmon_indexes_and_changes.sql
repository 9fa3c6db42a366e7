-- Indexes gobearmon never had: the alert lookup and the history pages read by check_id.
CREATE INDEX IF NOT EXISTS alerts_check_id ON alerts (check_id);
CREATE INDEX IF NOT EXISTS check_events_check_id ON check_events (check_id, id);
CREATE INDEX IF NOT EXISTS charges_check_id ON charges (check_id);

-- The change log: triggers append one row per user change so that a watcher learns
-- "nothing changed" with one indexed query instead of re-reading 100,000 checks.
-- For alerts the row id logged is the alert's check_id: that is what must be reloaded.
CREATE TABLE bearmon_changes (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	tbl VARCHAR(16) NOT NULL,
	row_id INT NOT NULL,
	changed_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX bearmon_changes_at ON bearmon_changes (changed_at);

CREATE TRIGGER bearmon_checks_ins AFTER INSERT ON checks BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('checks', NEW.id); END;
CREATE TRIGGER bearmon_checks_upd AFTER UPDATE ON checks BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('checks', OLD.id), ('checks', NEW.id); END;
CREATE TRIGGER bearmon_checks_del AFTER DELETE ON checks BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('checks', OLD.id); END;
CREATE TRIGGER bearmon_contacts_ins AFTER INSERT ON contacts BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('contacts', NEW.id); END;
CREATE TRIGGER bearmon_contacts_upd AFTER UPDATE ON contacts BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('contacts', OLD.id), ('contacts', NEW.id); END;
CREATE TRIGGER bearmon_contacts_del AFTER DELETE ON contacts BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('contacts', OLD.id); END;
CREATE TRIGGER bearmon_alerts_ins AFTER INSERT ON alerts BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('alerts', NEW.check_id); END;
CREATE TRIGGER bearmon_alerts_upd AFTER UPDATE ON alerts BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('alerts', OLD.check_id), ('alerts', NEW.check_id); END;
CREATE TRIGGER bearmon_alerts_del AFTER DELETE ON alerts BEGIN
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('alerts', OLD.check_id); END;
