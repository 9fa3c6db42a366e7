-- API tokens (bearmon token create|list|revoke): only the SHA-256 of a token is kept, so
-- a copy of the database grants nothing. scope is read, write or admin; a revoked token
-- keeps its row (revoked_at > 0) so the list says when it was revoked.
CREATE TABLE IF NOT EXISTS bearmon_tokens (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name VARCHAR(128) NOT NULL UNIQUE,
	scope VARCHAR(8) NOT NULL,
	token_hash VARCHAR(64) NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	last_used_at BIGINT NOT NULL DEFAULT 0,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
