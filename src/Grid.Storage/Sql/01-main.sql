-- Grid.Orleans schema for the Orleans ADO.NET providers on PostgreSQL (15 or newer).
-- The providers read every statement they run from this table, by key, once at start-up;
-- the key names, parameter names (@Name) and result column names are their contract.
-- Result columns are matched by name without regard to case, so aliases are written unquoted.
-- Every script here is idempotent: it is re-applied on each silo start and a newer text of a
-- query replaces the stored one. Scripts are numbered (the file name's leading digits, one numbering across
-- projects) and additive: a release adds a script with the next number and never drops or renames what a
-- release still running beside it reads (docs/architecture.md, "Upgrades").
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

-- One row per schema number applied, with the release that applied it first. A silo refuses to start on a
-- database whose newest number is beyond the newest script it ships: it is older than the schema.
CREATE TABLE IF NOT EXISTS grid_schema_version
(
    number     integer      NOT NULL,
    script     varchar(100) NOT NULL,
    release    varchar(64)  NOT NULL,
    applied_at timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pk_grid_schema_version PRIMARY KEY (number)
);
