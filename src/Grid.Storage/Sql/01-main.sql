-- Grid.Orleans schema for the Orleans ADO.NET providers on PostgreSQL (15 or newer).
-- The providers read every statement they run from this table, by key, once at start-up;
-- the key names, parameter names (@Name) and result column names are their contract.
-- Result columns are matched by name without regard to case, so aliases are written unquoted.
-- Every script here is idempotent: it is re-applied on each silo start and a newer text of a
-- query replaces the stored one.
CREATE TABLE IF NOT EXISTS orleansquery
(
    querykey  varchar(64) NOT NULL,
    querytext text        NOT NULL,
    CONSTRAINT pk_orleansquery PRIMARY KEY (querykey)
);

-- One row per applied script, so an operator can see which schema text a database has.
CREATE TABLE IF NOT EXISTS grid_schema_script
(
    script     varchar(100) NOT NULL,
    sha256     char(64)     NOT NULL,
    applied_at timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pk_grid_schema_script PRIMARY KEY (script)
);
