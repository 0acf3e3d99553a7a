-- The durable job queue, written in the same transaction as the change that causes a job (the
-- outbox pattern): a job exists exactly when its cause was committed.
--
-- A worker claims due rows with `FOR UPDATE SKIP LOCKED` and holds each for a lease
-- (`locked_until`); a job whose worker died is claimed again once its lease runs out, so
-- delivery is at least once and every job must be safe to run twice.
CREATE TABLE jobs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 100),
    -- The job's identity: enqueueing a key that exists already is a no-op.
    key           text NOT NULL UNIQUE CHECK (char_length(key) BETWEEN 1 AND 300),
    payload       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'done', 'dead')),
    -- Claims so far; the worker's JOBS_MAX_ATTEMPTS decides when a job is dead.
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    run_at        timestamptz NOT NULL DEFAULT now(),
    -- Set while claimed: which claim holds the job, and until when.
    lease_id      uuid,
    locked_until  timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'running') = (lease_id IS NOT NULL AND locked_until IS NOT NULL))
);

-- What the claim query scans: due queued jobs, and running jobs whose lease ran out.
CREATE INDEX jobs_queued_run_at_idx ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_running_locked_until_idx ON jobs (locked_until) WHERE status = 'running';
-- The admin list of dead jobs, and the purge of old finished ones.
CREATE INDEX jobs_status_updated_idx ON jobs (status, updated_at, id);

CREATE TRIGGER jobs_set_updated_at BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
