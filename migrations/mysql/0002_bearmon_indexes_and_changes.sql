-- Indexes gobearmon never had: the alert lookup and the history pages read by check_id.
CREATE INDEX alerts_check_id ON alerts (check_id);
CREATE INDEX check_events_check_id ON check_events (check_id, id);
CREATE INDEX charges_check_id ON charges (check_id);

-- The change log: triggers append one row per user change so that a watcher learns
-- "nothing changed" with one indexed query instead of re-reading 100,000 checks.
-- For alerts the row id logged is the alert's check_id: that is what must be reloaded.
CREATE TABLE bearmon_changes (
	seq BIGINT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	tbl VARCHAR(16) NOT NULL,
	row_id INT NOT NULL,
	changed_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX bearmon_changes_at ON bearmon_changes (changed_at);

CREATE TRIGGER bearmon_checks_ins AFTER INSERT ON checks FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('checks', NEW.id);
CREATE TRIGGER bearmon_checks_upd AFTER UPDATE ON checks FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('checks', OLD.id), ('checks', NEW.id);
CREATE TRIGGER bearmon_checks_del AFTER DELETE ON checks FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('checks', OLD.id);
CREATE TRIGGER bearmon_contacts_ins AFTER INSERT ON contacts FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('contacts', NEW.id);
CREATE TRIGGER bearmon_contacts_upd AFTER UPDATE ON contacts FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('contacts', OLD.id), ('contacts', NEW.id);
CREATE TRIGGER bearmon_contacts_del AFTER DELETE ON contacts FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('contacts', OLD.id);
CREATE TRIGGER bearmon_alerts_ins AFTER INSERT ON alerts FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('alerts', NEW.check_id);
CREATE TRIGGER bearmon_alerts_upd AFTER UPDATE ON alerts FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('alerts', OLD.check_id), ('alerts', NEW.check_id);
CREATE TRIGGER bearmon_alerts_del AFTER DELETE ON alerts FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('alerts', OLD.check_id);
