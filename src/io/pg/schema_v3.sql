CREATE TABLE gander_store (id text PRIMARY KEY);
INSERT INTO gander_store (id) SELECT gen_random_uuid()::text;
