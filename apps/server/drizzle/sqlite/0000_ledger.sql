CREATE TABLE `accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`balance` integer NOT NULL,
	`opening_balance` integer NOT NULL,
	`opened_by` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	CONSTRAINT "accounts_balance_not_negative" CHECK("accounts"."balance" >= 0),
	CONSTRAINT "accounts_opening_balance_not_negative" CHECK("accounts"."opening_balance" >= 0)
);
--> statement-breakpoint
CREATE TABLE `transfers` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`from_account_id` text NOT NULL,
	`to_account_id` text NOT NULL,
	`amount` integer NOT NULL,
	`created_by` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	FOREIGN KEY (`from_account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`to_account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "transfers_amount_positive" CHECK("transfers"."amount" > 0),
	CONSTRAINT "transfers_distinct_accounts" CHECK("transfers"."from_account_id" <> "transfers"."to_account_id")
);
--> statement-breakpoint
CREATE UNIQUE INDEX `transfers_id_unique` ON `transfers` (`id`);--> statement-breakpoint
CREATE INDEX `transfers_from_account_idx` ON `transfers` (`from_account_id`,`seq`);--> statement-breakpoint
CREATE INDEX `transfers_to_account_idx` ON `transfers` (`to_account_id`,`seq`);