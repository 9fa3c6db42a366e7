-- Dependencies between checks (SPEC §10, Shinken's notification logic part 2): a check
-- (check_id) is not run (execution_failure_criteria) or does not page
-- (notification_failure_criteria) while its parent is in one of the named states (letters
-- o,w,u,c,p,n). A NULL notification criterion means c: a check whose parent failed is
-- UNREACHABLE and pages nobody (gobearmon-style parents).
CREATE TABLE IF NOT EXISTS dependencies (
	id INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	check_id INT NOT NULL,
	parent_id INT NOT NULL,
	execution_failure_criteria VARCHAR(16) NULL,
	notification_failure_criteria VARCHAR(16) NULL,
	inherits_parent TINYINT(1) NOT NULL DEFAULT 0,
	dependency_period VARCHAR(128) NULL,
	INDEX dependencies_check_id (check_id)
);

CREATE TRIGGER bearmon_dependencies_ins AFTER INSERT ON dependencies FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('dependencies', NEW.id);
CREATE TRIGGER bearmon_dependencies_upd AFTER UPDATE ON dependencies FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('dependencies', NEW.id);
CREATE TRIGGER bearmon_dependencies_del AFTER DELETE ON dependencies FOR EACH ROW
	INSERT INTO bearmon_changes (tbl, row_id) VALUES ('dependencies', OLD.id);
