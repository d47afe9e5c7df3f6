-- Membership (clustering). Orleans keeps one table version per cluster (DeploymentId = ClusterId);
-- every membership change must bump that version atomically with the row change, which is how the
-- providers detect a concurrent writer (optimistic concurrency on the whole table).
CREATE TABLE IF NOT EXISTS orleans_membership_version
(
    deployment_id varchar(150) NOT NULL,
    version       integer      NOT NULL DEFAULT 0,
    changed_at    timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pk_orleans_membership_version PRIMARY KEY (deployment_id)
);

CREATE TABLE IF NOT EXISTS orleans_membership
(
    deployment_id   varchar(150) NOT NULL,
    address         varchar(45)  NOT NULL,
    port            integer      NOT NULL,
    generation      integer      NOT NULL,
    silo_name       varchar(150) NOT NULL,
    host_name       varchar(150) NOT NULL,
    status          integer      NOT NULL,
    proxy_port      integer      NOT NULL DEFAULT 0,
    suspect_times   text         NULL,
    start_time      timestamptz  NOT NULL,
    i_am_alive_time timestamptz  NOT NULL,
    CONSTRAINT pk_orleans_membership PRIMARY KEY (deployment_id, address, port, generation),
    -- Deleting a cluster's version row removes its silos with it.
    CONSTRAINT fk_orleans_membership_version FOREIGN KEY (deployment_id)
        REFERENCES orleans_membership_version (deployment_id) ON DELETE CASCADE
);

INSERT INTO orleansquery (querykey, querytext) VALUES
('InsertMembershipVersionKey', $q$
WITH created AS (
    INSERT INTO orleans_membership_version (deployment_id)
    VALUES (@DeploymentId::varchar)
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1
)
SELECT count(*)::int FROM created
$q$),

-- The version only moves when the expected version matches and the silo's row is not there yet,
-- so a failed insert never leaves a bumped version behind.
('InsertMembershipKey', $q$
WITH bumped AS (
    UPDATE orleans_membership_version
    SET version = version + 1, changed_at = now()
    WHERE deployment_id = @DeploymentId::varchar
      AND version = @Version::int
      AND NOT EXISTS (
          SELECT 1 FROM orleans_membership
          WHERE deployment_id = @DeploymentId::varchar
            AND address = @Address::varchar AND port = @Port::int AND generation = @Generation::int)
    RETURNING deployment_id
), inserted AS (
    INSERT INTO orleans_membership
        (deployment_id, address, port, generation, silo_name, host_name, status, proxy_port,
         start_time, i_am_alive_time)
    SELECT deployment_id, @Address::varchar, @Port::int, @Generation::int, @SiloName::varchar,
           @HostName::varchar, @Status::int, coalesce(@ProxyPort::int, 0),
           @StartTime::timestamptz, @IAmAliveTime::timestamptz
    FROM bumped
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT count(*)::int FROM inserted
$q$),

('UpdateMembershipKey', $q$
WITH bumped AS (
    UPDATE orleans_membership_version
    SET version = version + 1, changed_at = now()
    WHERE deployment_id = @DeploymentId::varchar
      AND version = @Version::int
      AND EXISTS (
          SELECT 1 FROM orleans_membership
          WHERE deployment_id = @DeploymentId::varchar
            AND address = @Address::varchar AND port = @Port::int AND generation = @Generation::int)
    RETURNING deployment_id
), updated AS (
    UPDATE orleans_membership m
    SET status = @Status::int,
        suspect_times = @SuspectTimes::text,
        i_am_alive_time = @IAmAliveTime::timestamptz
    FROM bumped b
    WHERE m.deployment_id = b.deployment_id
      AND m.address = @Address::varchar AND m.port = @Port::int AND m.generation = @Generation::int
    RETURNING 1
)
SELECT count(*)::int FROM updated
$q$),

-- Heartbeat of a silo: deliberately does not bump the table version (Orleans' contract), so
-- frequent heartbeats never conflict with membership changes.
('UpdateIAmAlivetimeKey', $q$
UPDATE orleans_membership
SET i_am_alive_time = @IAmAliveTime::timestamptz
WHERE deployment_id = @DeploymentId::varchar
  AND address = @Address::varchar AND port = @Port::int AND generation = @Generation::int
$q$),

-- The version row is always returned (outer join), even when the silo has no row yet.
('MembershipReadRowKey', $q$
SELECT v.deployment_id AS DeploymentId, m.address AS Address, m.port AS Port,
       m.generation AS Generation, m.silo_name AS SiloName, m.host_name AS HostName,
       m.status AS Status, m.proxy_port AS ProxyPort, m.suspect_times AS SuspectTimes,
       m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime, v.version AS Version
FROM orleans_membership_version v
LEFT JOIN orleans_membership m
       ON m.deployment_id = v.deployment_id
      AND m.address = @Address::varchar AND m.port = @Port::int AND m.generation = @Generation::int
WHERE v.deployment_id = @DeploymentId::varchar
$q$),

('MembershipReadAllKey', $q$
SELECT v.deployment_id AS DeploymentId, m.address AS Address, m.port AS Port,
       m.generation AS Generation, m.silo_name AS SiloName, m.host_name AS HostName,
       m.status AS Status, m.proxy_port AS ProxyPort, m.suspect_times AS SuspectTimes,
       m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime, v.version AS Version
FROM orleans_membership_version v
LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
WHERE v.deployment_id = @DeploymentId::varchar
$q$),

-- Removes the whole cluster; its silo rows go by ON DELETE CASCADE.
('DeleteMembershipTableEntriesKey', $q$
DELETE FROM orleans_membership_version WHERE deployment_id = @DeploymentId::varchar
$q$),

('GatewaysQueryKey', $q$
SELECT address AS Address, proxy_port AS ProxyPort, generation AS Generation
FROM orleans_membership
WHERE deployment_id = @DeploymentId::varchar
  AND status = @Status::int
  AND proxy_port > 0
$q$),

-- Only rows of dead silos (status 6) are removed: a row a live or joining silo still owns is
-- never touched, whatever its heartbeat age.
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId::varchar
  AND i_am_alive_time < @IAmAliveTime::timestamptz
  AND status = 6
$q$),

-- Per-row variant: deletes one dead silo only if the values the caller read are still stored.
('CleanupDefunctSiloEntryKey', $q$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId::varchar
  AND address = @Address::varchar AND port = @Port::int AND generation = @Generation::int
  AND status = 6
  AND start_time = @StartTime::timestamptz
  AND i_am_alive_time = @IAmAliveTime::timestamptz
  AND suspect_times IS NOT DISTINCT FROM @SuspectTimes::text
$q$)
ON CONFLICT (querykey) DO UPDATE SET querytext = EXCLUDED.querytext;
