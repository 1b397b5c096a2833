CREATE TABLE IF NOT EXISTS "idempotency_records" (
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"path" text NOT NULL,
	"fingerprint" text NOT NULL,
	"state" text NOT NULL,
	"owner" text NOT NULL,
	"attempt" integer NOT NULL,
	"lease_expires_at_ms" bigint NOT NULL,
	"expires_at_ms" bigint NOT NULL,
	"created_at_ms" bigint NOT NULL,
	"completed_at_ms" bigint,
	"outcome_kind" text,
	"response" text,
	CONSTRAINT "idempotency_records_scope_key_pk" PRIMARY KEY("scope","key")
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idempotency_records_expires_at_idx" ON "idempotency_records" USING btree ("expires_at_ms");