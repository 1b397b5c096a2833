CREATE TABLE IF NOT EXISTS `idempotency_records` (
	`scope` varchar(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`key` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`path` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`fingerprint` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`state` varchar(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`owner` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	`attempt` int NOT NULL,
	`lease_expires_at_ms` bigint NOT NULL,
	`expires_at_ms` bigint NOT NULL,
	`created_at_ms` bigint NOT NULL,
	`completed_at_ms` bigint,
	`outcome_kind` varchar(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
	`response` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
	`steps` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
	CONSTRAINT `idempotency_records_scope_key_pk` PRIMARY KEY(`scope`,`key`),
	INDEX `idempotency_records_expires_at_idx` (`expires_at_ms`)
) ENGINE=InnoDB;