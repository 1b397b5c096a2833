CREATE TABLE IF NOT EXISTS `idempotency_records` (
	`scope` text NOT NULL,
	`key` text NOT NULL,
	`path` text NOT NULL,
	`fingerprint` text NOT NULL,
	`state` text NOT NULL,
	`owner` text NOT NULL,
	`attempt` integer NOT NULL,
	`lease_expires_at_ms` integer NOT NULL,
	`expires_at_ms` integer NOT NULL,
	`created_at_ms` integer NOT NULL,
	`completed_at_ms` integer,
	`outcome_kind` text,
	`response` text,
	PRIMARY KEY(`scope`, `key`)
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `idempotency_records_expires_at_idx` ON `idempotency_records` (`expires_at_ms`);
