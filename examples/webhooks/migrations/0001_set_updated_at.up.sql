-- A trigger function that every table with an `updated_at` column attaches, so the column is
-- right however a row is changed (even by hand in psql).
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;
