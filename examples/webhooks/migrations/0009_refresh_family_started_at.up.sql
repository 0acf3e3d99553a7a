-- When the login that began each refresh-token family happened: a family ends
-- REFRESH_FAMILY_MAX_AGE_SECS after it, however often its tokens are rotated. Every successor
-- copies it from the token it replaces (new logins take the default).
ALTER TABLE refresh_tokens ADD COLUMN family_started_at timestamptz;

-- Families alive now started no later than their oldest remaining token (older ones may have
-- been purged, so a family can be older than this says, never younger).
UPDATE refresh_tokens AS t
SET family_started_at = f.started_at
FROM (SELECT family_id, min(created_at) AS started_at FROM refresh_tokens GROUP BY family_id) AS f
WHERE t.family_id = f.family_id;

ALTER TABLE refresh_tokens
    ALTER COLUMN family_started_at SET DEFAULT now(),
    ALTER COLUMN family_started_at SET NOT NULL;
