-- gobearmon's install.sql, kept column for column so that a gobearmon user's statements run
-- unchanged. IF NOT EXISTS lets `bearmon migrate` adopt an existing gobearmon database.
-- check_events.time is DATETIME rather than TIMESTAMP: same meaning, no 2038 limit.
CREATE TABLE IF NOT EXISTS checks (
	id INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	name VARCHAR(64) NOT NULL,
	type VARCHAR(16) NOT NULL,
	data VARCHAR(1024) NOT NULL,
	check_interval INT NOT NULL DEFAULT 60,
	delay INT NOT NULL DEFAULT 1,
	status ENUM ('online', 'offline') DEFAULT 'online',
	enabled TINYINT(1) NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS contacts (
	id INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	type VARCHAR(32) NOT NULL,
	data VARCHAR(512) NOT NULL
);

CREATE TABLE IF NOT EXISTS alerts (
	id INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	check_id INT NOT NULL,
	contact_id INT NOT NULL,
	type ENUM ('online', 'offline', 'both') DEFAULT 'both',
	enabled TINYINT(1) NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS check_events (
	id INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	check_id INT NOT NULL,
	type ENUM ('online', 'offline'),
	time DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS charges (
	id INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
	check_id INT NOT NULL,
	type VARCHAR(32) NOT NULL,
	data VARCHAR(512) NOT NULL
);
