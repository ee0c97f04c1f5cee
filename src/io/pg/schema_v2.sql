CREATE TRIGGER gander_artifacts_meta_guard BEFORE UPDATE OR DELETE ON gander_artifacts
    FOR EACH ROW EXECUTE FUNCTION gander_artifacts_guard();
CREATE TRIGGER gander_artifacts_no_truncate BEFORE TRUNCATE ON gander_artifacts
    FOR EACH STATEMENT EXECUTE FUNCTION gander_artifacts_guard();
CREATE TRIGGER gander_artifact_chunks_no_truncate BEFORE TRUNCATE ON gander_artifact_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION gander_artifacts_guard();
