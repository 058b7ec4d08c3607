-- Hand-written: every change to an API key (revoked, rotated, bound, sealed again, deleted) is
-- announced on the channel `entrepot_api_keys` with the key's id, delivered at the change's commit.
-- Each service instance on PostgreSQL listens there and forgets its cached copy of that key at once,
-- so a key revoked through one instance (or by hand in psql) is refused by every instance at once,
-- not up to the cache's 5 s later. INSERT too: an id looked up before its key existed is cached as
-- unknown for 5 s. PGlite runs the trigger with no one listening (one process: nothing to tell).
CREATE OR REPLACE FUNCTION "api_keys_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('entrepot_api_keys', COALESCE(NEW."id", OLD."id"));
  RETURN NULL;
END
$$;

CREATE TRIGGER "api_keys_notify" AFTER INSERT OR UPDATE OR DELETE ON "api_keys"
  FOR EACH ROW EXECUTE FUNCTION "api_keys_notify"();
