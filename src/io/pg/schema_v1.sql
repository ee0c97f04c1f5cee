CREATE TABLE gander_records (
    seq         bigint PRIMARY KEY CHECK (seq >= 1),
    hash        text NOT NULL UNIQUE,
    prev_hash   text NOT NULL,
    line        text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE gander_artifacts (
    sha256 text PRIMARY KEY,
    size   bigint NOT NULL,
    chunks integer NOT NULL
);
CREATE TABLE gander_artifact_chunks (
    sha256 text NOT NULL REFERENCES gander_artifacts (sha256),
    n      integer NOT NULL,
    bytes  bytea NOT NULL,
    PRIMARY KEY (sha256, n)
);
CREATE FUNCTION gander_records_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'gander_records is append-only (% refused)', TG_OP;
    END IF;
    IF NEW.seq = 1 THEN
        IF NEW.prev_hash <> repeat('0', 64) THEN
            RAISE EXCEPTION 'seq 1 does not link to the genesis';
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM gander_records WHERE seq = NEW.seq - 1 AND hash = NEW.prev_hash) THEN
        RAISE EXCEPTION 'seq % does not link to seq %', NEW.seq, NEW.seq - 1;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER gander_records_guard BEFORE INSERT OR UPDATE OR DELETE ON gander_records
    FOR EACH ROW EXECUTE FUNCTION gander_records_guard();
CREATE TRIGGER gander_records_no_truncate BEFORE TRUNCATE ON gander_records
    FOR EACH STATEMENT EXECUTE FUNCTION gander_records_guard();
CREATE FUNCTION gander_artifacts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evidence files are kept (% refused)', TG_OP;
END
$$;
CREATE TRIGGER gander_artifacts_guard BEFORE UPDATE OR DELETE ON gander_artifact_chunks
    FOR EACH ROW EXECUTE FUNCTION gander_artifacts_guard();
