CREATE INDEX users_created_at_idx ON users (created_at, id);
DROP INDEX users_page_idx;
