CREATE TABLE `accounts` (
	`id` varchar(64) NOT NULL,
	`owner` varchar(1000) NOT NULL,
	`balance` bigint NOT NULL,
	`opening_balance` bigint NOT NULL,
	`opened_by` varchar(255) NOT NULL,
	`created_at_ms` bigint NOT NULL,
	CONSTRAINT `accounts_id` PRIMARY KEY(`id`),
	CONSTRAINT `accounts_balance_not_negative` CHECK(`accounts`.`balance` >= 0),
	CONSTRAINT `accounts_opening_balance_not_negative` CHECK(`accounts`.`opening_balance` >= 0)
);
--> statement-breakpoint
CREATE TABLE `payout_holds` (
	`id` varchar(64) NOT NULL,
	`hold_key` varchar(512) NOT NULL,
	`account_id` varchar(64) NOT NULL,
	`amount` bigint NOT NULL,
	`state` varchar(16) NOT NULL,
	`created_by` varchar(255) NOT NULL,
	`created_at_ms` bigint NOT NULL,
	`settled_at_ms` bigint,
	CONSTRAINT `payout_holds_id` PRIMARY KEY(`id`),
	CONSTRAINT `payout_holds_hold_key_unique` UNIQUE(`hold_key`),
	CONSTRAINT `payout_holds_amount_positive` CHECK(`payout_holds`.`amount` > 0),
	CONSTRAINT `payout_holds_state` CHECK(`payout_holds`.`state` IN ('held', 'settled'))
);
--> statement-breakpoint
CREATE TABLE `payouts` (
	`seq` bigint AUTO_INCREMENT NOT NULL,
	`id` varchar(64) NOT NULL,
	`hold_id` varchar(64) NOT NULL,
	`account_id` varchar(64) NOT NULL,
	`amount` bigint NOT NULL,
	`gateway_payout_id` varchar(255) NOT NULL,
	`created_by` varchar(255) NOT NULL,
	`created_at_ms` bigint NOT NULL,
	CONSTRAINT `payouts_seq` PRIMARY KEY(`seq`),
	CONSTRAINT `payouts_id_unique` UNIQUE(`id`),
	CONSTRAINT `payouts_hold_id_unique` UNIQUE(`hold_id`),
	CONSTRAINT `payouts_gateway_payout_id_unique` UNIQUE(`gateway_payout_id`),
	CONSTRAINT `payouts_amount_positive` CHECK(`payouts`.`amount` > 0)
);
--> statement-breakpoint
CREATE TABLE `transfers` (
	`seq` bigint AUTO_INCREMENT NOT NULL,
	`id` varchar(64) NOT NULL,
	`from_account_id` varchar(64) NOT NULL,
	`to_account_id` varchar(64) NOT NULL,
	`amount` bigint NOT NULL,
	`created_by` varchar(255) NOT NULL,
	`created_at_ms` bigint NOT NULL,
	CONSTRAINT `transfers_seq` PRIMARY KEY(`seq`),
	CONSTRAINT `transfers_id_unique` UNIQUE(`id`),
	CONSTRAINT `transfers_amount_positive` CHECK(`transfers`.`amount` > 0),
	CONSTRAINT `transfers_distinct_accounts` CHECK(`transfers`.`from_account_id` <> `transfers`.`to_account_id`)
);
--> statement-breakpoint
ALTER TABLE `payout_holds` ADD CONSTRAINT `payout_holds_account_id_accounts_id_fk` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `payouts` ADD CONSTRAINT `payouts_hold_id_payout_holds_id_fk` FOREIGN KEY (`hold_id`) REFERENCES `payout_holds`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `payouts` ADD CONSTRAINT `payouts_account_id_accounts_id_fk` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `transfers` ADD CONSTRAINT `transfers_from_account_id_accounts_id_fk` FOREIGN KEY (`from_account_id`) REFERENCES `accounts`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `transfers` ADD CONSTRAINT `transfers_to_account_id_accounts_id_fk` FOREIGN KEY (`to_account_id`) REFERENCES `accounts`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `payout_holds_account_idx` ON `payout_holds` (`account_id`);--> statement-breakpoint
CREATE INDEX `payouts_account_idx` ON `payouts` (`account_id`,`seq`);--> statement-breakpoint
CREATE INDEX `transfers_from_account_idx` ON `transfers` (`from_account_id`,`seq`);--> statement-breakpoint
CREATE INDEX `transfers_to_account_idx` ON `transfers` (`to_account_id`,`seq`);