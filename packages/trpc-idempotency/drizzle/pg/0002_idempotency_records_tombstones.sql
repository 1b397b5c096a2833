ALTER TABLE "idempotency_records" ADD COLUMN IF NOT EXISTS "response_expires_at_ms" bigint;--> statement-breakpoint
ALTER TABLE "idempotency_records" ADD COLUMN IF NOT EXISTS "trace_context" text;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idempotency_records_response_expires_at_idx" ON "idempotency_records" USING btree ("response_expires_at_ms");