-- Whose work a job is, when one party's jobs could crowd out everyone else's: the webhook
-- deliveries of one account (`webhooks:<owner id>`) share a lane, and the claim runs at most
-- JOBS_MAX_PER_LANE jobs of one lane at once. NULL: no lane, no limit (emails, fan-out).
-- The claim counts running jobs by lane through jobs_running_locked_until_idx (running jobs
-- are few), so the lane needs no index of its own.
ALTER TABLE jobs ADD COLUMN lane text CHECK (char_length(lane) BETWEEN 1 AND 100);
