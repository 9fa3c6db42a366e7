-- Dependencies between checks (SPEC §10, Shinken's notification logic part 2): a check
-- (check_id) is not run (execution_failure_criteria) or does not page
-- (notification_failure_criteria) while its parent is in one of the named states (letters
-- o,w,u,c,p,n). A NULL notification criterion means c: a check whose parent failed is
-- UNREACHABLE and pages nobody (gobearmon-style parents).
CREATE TABLE IF NOT EXISTS dependencies (
	id SERIAL PRIMARY KEY,
	check_id INT NOT NULL,
	parent_id INT NOT NULL,
	execution_failure_criteria VARCHAR(16) NULL,
	notification_failure_criteria VARCHAR(16) NULL,
	inherits_parent SMALLINT NOT NULL DEFAULT 0,
	dependency_period VARCHAR(128) NULL
);
CREATE INDEX IF NOT EXISTS dependencies_check_id ON dependencies (check_id);

CREATE TRIGGER bearmon_dependencies_change AFTER INSERT OR UPDATE OR DELETE ON dependencies
	FOR EACH ROW EXECUTE FUNCTION bearmon_log_row_change();
