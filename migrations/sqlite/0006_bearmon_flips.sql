-- Which controller term committed each flip, written in the flip's fenced transaction. It
-- lets an operator (and scripts/chaos.sh) prove that terms only ever grew in commit order:
-- no flip was committed by a deposed controller.
CREATE TABLE IF NOT EXISTS bearmon_flips (
	event_id BIGINT NOT NULL PRIMARY KEY,
	check_id INT NOT NULL,
	term BIGINT NOT NULL,
	to_status VARCHAR(8) NOT NULL,
	at BIGINT NOT NULL
);
