-- Reminders. grain_hash is the grain's uniform hash as a signed 32-bit value; the reminder
-- service reads ranges of it, so it is indexed. period is in milliseconds.
CREATE TABLE IF NOT EXISTS orleans_reminder
(
    service_id    varchar(150) NOT NULL,
    grain_id      varchar(150) NOT NULL,
    reminder_name varchar(150) NOT NULL,
    start_time    timestamptz  NOT NULL,
    period_ms     bigint       NOT NULL,
    grain_hash    integer      NOT NULL,
    version       integer      NOT NULL,
    CONSTRAINT pk_orleans_reminder PRIMARY KEY (service_id, grain_id, reminder_name)
);

CREATE INDEX IF NOT EXISTS ix_orleans_reminder_hash ON orleans_reminder (service_id, grain_hash);

-- The row shape every reminder read returns, under the column names the provider reads.
CREATE OR REPLACE VIEW orleans_reminder_row AS
SELECT service_id, grain_hash,
       grain_id AS GrainId, reminder_name AS ReminderName, start_time AS StartTime,
       period_ms AS Period, version AS Version
FROM orleans_reminder;

INSERT INTO orleansquery (querykey, querytext) VALUES
('UpsertReminderRowKey', $q$
INSERT INTO orleans_reminder
    (service_id, grain_id, reminder_name, start_time, period_ms, grain_hash, version)
VALUES (@ServiceId::varchar, @GrainId::varchar, @ReminderName::varchar, @StartTime::timestamptz,
        @Period::bigint, @GrainHash::int, 0)
ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
SET start_time = EXCLUDED.start_time,
    period_ms = EXCLUDED.period_ms,
    grain_hash = EXCLUDED.grain_hash,
    version = orleans_reminder.version + 1
RETURNING version AS Version
$q$),

('ReadReminderRowsKey', $q$
SELECT GrainId, ReminderName, StartTime, Period, Version
FROM orleans_reminder_row
WHERE service_id = @ServiceId::varchar AND GrainId = @GrainId::varchar
$q$),

('ReadReminderRowKey', $q$
SELECT GrainId, ReminderName, StartTime, Period, Version
FROM orleans_reminder_row
WHERE service_id = @ServiceId::varchar AND GrainId = @GrainId::varchar
  AND ReminderName = @ReminderName::varchar
$q$),

-- A ring range that does not wrap: (begin, end].
('ReadRangeRows1Key', $q$
SELECT GrainId, ReminderName, StartTime, Period, Version
FROM orleans_reminder_row
WHERE service_id = @ServiceId::varchar
  AND grain_hash > @BeginHash::int AND grain_hash <= @EndHash::int
$q$),

-- A ring range that wraps around: (begin, max] plus [min, end].
('ReadRangeRows2Key', $q$
SELECT GrainId, ReminderName, StartTime, Period, Version
FROM orleans_reminder_row
WHERE service_id = @ServiceId::varchar
  AND (grain_hash > @BeginHash::int OR grain_hash <= @EndHash::int)
$q$),

('DeleteReminderRowKey', $q$
WITH deleted AS (
    DELETE FROM orleans_reminder
    WHERE service_id = @ServiceId::varchar AND grain_id = @GrainId::varchar
      AND reminder_name = @ReminderName::varchar AND version = @Version::int
    RETURNING 1
)
SELECT count(*)::int FROM deleted
$q$),

('DeleteReminderRowsKey', $q$
DELETE FROM orleans_reminder WHERE service_id = @ServiceId::varchar
$q$)
ON CONFLICT (querykey) DO UPDATE SET querytext = EXCLUDED.querytext;
