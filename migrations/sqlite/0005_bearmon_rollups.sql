-- Per check and hour: runs, failures, latency. Raw results stay in the controller's memory;
-- these rows feed the day chart and are pruned after the retention setting.
CREATE TABLE IF NOT EXISTS bearmon_rollups (
	check_id INT NOT NULL,
	hour BIGINT NOT NULL,
	runs INT NOT NULL,
	failures INT NOT NULL,
	latency_avg_ms DOUBLE PRECISION NOT NULL,
	latency_p50_ms DOUBLE PRECISION NOT NULL,
	latency_p95_ms DOUBLE PRECISION NOT NULL,
	latency_max_ms DOUBLE PRECISION NOT NULL,
	PRIMARY KEY (check_id, hour)
);
