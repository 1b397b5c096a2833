CREATE TABLE "payout_holds" (
	"id" text PRIMARY KEY NOT NULL,
	"hold_key" text NOT NULL,
	"account_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"state" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at_ms" bigint NOT NULL,
	"settled_at_ms" bigint,
	CONSTRAINT "payout_holds_hold_key_unique" UNIQUE("hold_key"),
	CONSTRAINT "payout_holds_amount_positive" CHECK ("payout_holds"."amount" > 0),
	CONSTRAINT "payout_holds_state" CHECK ("payout_holds"."state" IN ('held', 'settled'))
);
--> statement-breakpoint
CREATE TABLE "payouts" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "payouts_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"id" text NOT NULL,
	"hold_id" text NOT NULL,
	"account_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"gateway_payout_id" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at_ms" bigint NOT NULL,
	CONSTRAINT "payouts_id_unique" UNIQUE("id"),
	CONSTRAINT "payouts_hold_id_unique" UNIQUE("hold_id"),
	CONSTRAINT "payouts_gateway_payout_id_unique" UNIQUE("gateway_payout_id"),
	CONSTRAINT "payouts_amount_positive" CHECK ("payouts"."amount" > 0)
);
--> statement-breakpoint
ALTER TABLE "payout_holds" ADD CONSTRAINT "payout_holds_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_hold_id_payout_holds_id_fk" FOREIGN KEY ("hold_id") REFERENCES "public"."payout_holds"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payouts" ADD CONSTRAINT "payouts_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "payout_holds_account_idx" ON "payout_holds" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "payouts_account_idx" ON "payouts" USING btree ("account_id","seq");