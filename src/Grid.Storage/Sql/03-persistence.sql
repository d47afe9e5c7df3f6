-- Grain state. A grain is identified by service, grain type and grain id (two 64-bit halves plus an
-- optional string key); the two hashes come first in the key so that lookups use the index
-- prefix. The string part is nullable, hence NULLS NOT DISTINCT (PostgreSQL 15+).
-- payload holds whatever the configured IGrainStorageSerializer wrote (Grid uses UTF-8 JSON).
CREATE TABLE IF NOT EXISTS orleans_grain_state
(
    grain_id_hash      integer      NOT NULL,
    grain_type_hash    integer      NOT NULL,
    grain_id_n0        bigint       NOT NULL,
    grain_id_n1        bigint       NOT NULL,
    grain_type         varchar(512) NOT NULL,
    grain_id_extension varchar(512) NULL,
    service_id         varchar(150) NOT NULL,
    payload            bytea        NULL,
    version            integer      NOT NULL,
    modified_on        timestamptz  NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX IF NOT EXISTS ux_orleans_grain_state ON orleans_grain_state
    (grain_id_hash, grain_type_hash, grain_id_n0, grain_id_n1, service_id, grain_type, grain_id_extension)
    NULLS NOT DISTINCT;

-- Node ledgers and tenant lists are JSON documents of several KB, which PostgreSQL compresses on every write:
-- lz4 takes a third of the CPU of the default pglz (measured: 27 against 83 microseconds of backend CPU per
-- update of a 10 KB ledger). Only values written from then on use it; a server built without lz4 keeps pglz.
-- Changed only when not yet set, so a silo starting next to running ones takes no table lock for it.
DO $$
BEGIN
    IF (SELECT attcompression FROM pg_attribute
        WHERE attrelid = 'orleans_grain_state'::regclass AND attname = 'payload') IS DISTINCT FROM 'l' THEN
        ALTER TABLE orleans_grain_state ALTER COLUMN payload SET COMPRESSION lz4;
    END IF;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    NULL;
END $$;

INSERT INTO orleansquery (querykey, querytext) VALUES
('ReadFromStorageKey', $q$
SELECT payload AS PayloadBinary, version AS Version
FROM orleans_grain_state
WHERE grain_id_hash = @GrainIdHash::int AND grain_type_hash = @GrainTypeHash::int
  AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
  AND service_id = @ServiceId::varchar AND grain_type = @GrainTypeString::varchar
  AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString::varchar
$q$),

-- Optimistic concurrency: with a known version only that version is replaced; without one (the
-- grain never saw a stored record) only a first insert succeeds. When nothing was written the old
-- version comes back unchanged, which the provider reports as an inconsistent-state conflict.
('WriteToStorageKey', $q$
WITH updated AS (
    UPDATE orleans_grain_state
    SET payload = @PayloadBinary::bytea, version = version + 1, modified_on = now()
    WHERE @GrainStateVersion::int IS NOT NULL
      AND grain_id_hash = @GrainIdHash::int AND grain_type_hash = @GrainTypeHash::int
      AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
      AND service_id = @ServiceId::varchar AND grain_type = @GrainTypeString::varchar
      AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString::varchar
      AND version = @GrainStateVersion::int
    RETURNING version
), inserted AS (
    INSERT INTO orleans_grain_state
        (grain_id_hash, grain_type_hash, grain_id_n0, grain_id_n1, grain_type, grain_id_extension,
         service_id, payload, version)
    SELECT @GrainIdHash::int, @GrainTypeHash::int, @GrainIdN0::bigint, @GrainIdN1::bigint,
           @GrainTypeString::varchar, @GrainIdExtensionString::varchar, @ServiceId::varchar,
           @PayloadBinary::bytea, 1
    WHERE @GrainStateVersion::int IS NULL
    ON CONFLICT DO NOTHING
    RETURNING version
)
SELECT coalesce((SELECT version FROM updated), (SELECT version FROM inserted), @GrainStateVersion::int)
       AS NewGrainStateVersion
$q$),

('ClearStorageKey', $q$
UPDATE orleans_grain_state
SET payload = NULL, version = version + 1, modified_on = now()
WHERE grain_id_hash = @GrainIdHash::int AND grain_type_hash = @GrainTypeHash::int
  AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
  AND service_id = @ServiceId::varchar AND grain_type = @GrainTypeString::varchar
  AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString::varchar
  AND version = @GrainStateVersion::int
RETURNING version AS NewGrainStateVersion
$q$),

-- Used when DeleteStateOnClear is on: the row goes, and the next version is returned so the
-- provider sees the clear as successful.
('DeleteStorageKey', $q$
DELETE FROM orleans_grain_state
WHERE grain_id_hash = @GrainIdHash::int AND grain_type_hash = @GrainTypeHash::int
  AND grain_id_n0 = @GrainIdN0::bigint AND grain_id_n1 = @GrainIdN1::bigint
  AND service_id = @ServiceId::varchar AND grain_type = @GrainTypeString::varchar
  AND grain_id_extension IS NOT DISTINCT FROM @GrainIdExtensionString::varchar
  AND version = @GrainStateVersion::int
RETURNING version + 1 AS NewGrainStateVersion
$q$)
ON CONFLICT (querykey) DO UPDATE SET querytext = EXCLUDED.querytext;
