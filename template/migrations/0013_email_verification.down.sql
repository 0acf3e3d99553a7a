DROP TABLE email_verifications;
DROP INDEX users_unverified_created_at;
ALTER TABLE users DROP COLUMN email_verified_at;
