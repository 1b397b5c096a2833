ALTER TABLE `idempotency_records` ADD `response_expires_at_ms` integer;--> statement-breakpoint
ALTER TABLE `idempotency_records` ADD `trace_context` text;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS `idempotency_records_response_expires_at_idx` ON `idempotency_records` (`response_expires_at_ms`);