CREATE TABLE `payout_holds` (
	`id` text PRIMARY KEY NOT NULL,
	`hold_key` text NOT NULL,
	`account_id` text NOT NULL,
	`amount` integer NOT NULL,
	`state` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	`settled_at_ms` integer,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "payout_holds_amount_positive" CHECK("payout_holds"."amount" > 0),
	CONSTRAINT "payout_holds_state" CHECK("payout_holds"."state" IN ('held', 'settled'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payout_holds_hold_key_unique` ON `payout_holds` (`hold_key`);--> statement-breakpoint
CREATE INDEX `payout_holds_account_idx` ON `payout_holds` (`account_id`);--> statement-breakpoint
CREATE TABLE `payouts` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`hold_id` text NOT NULL,
	`account_id` text NOT NULL,
	`amount` integer NOT NULL,
	`gateway_payout_id` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	FOREIGN KEY (`hold_id`) REFERENCES `payout_holds`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "payouts_amount_positive" CHECK("payouts"."amount" > 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payouts_id_unique` ON `payouts` (`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `payouts_hold_id_unique` ON `payouts` (`hold_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `payouts_gateway_payout_id_unique` ON `payouts` (`gateway_payout_id`);--> statement-breakpoint
CREATE INDEX `payouts_account_idx` ON `payouts` (`account_id`,`seq`);