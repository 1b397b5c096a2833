DROP INDEX IF EXISTS `idempotency_records_expires_at_idx`;--> statement-breakpoint
ALTER TABLE `idempotency_records` ADD `response_expires_at_ms` integer;--> statement-breakpoint
ALTER TABLE `idempotency_records` ADD `trace_context` text;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `idempotency_records_purge_at_idx` ON `idempotency_records` ((CASE WHEN "response_expires_at_ms" < "expires_at_ms" THEN "response_expires_at_ms" ELSE "expires_at_ms" END));
