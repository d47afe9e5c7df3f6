-- The grid's ledger: an append-only, hash-chained record of activity written by the ledger grain (the single
-- writer) with one multi-row INSERT per group commit. seq is the primary key, so two writers racing after a
-- failover cannot both append the same sequence number (the chain never forks); event_id is unique, so an
-- event is recorded once. Hashes are lowercase hex; see LedgerCanonical for the bytes they cover.
CREATE TABLE IF NOT EXISTS grid_ledger_entry
(
    seq       bigint      NOT NULL,
    at        timestamptz NOT NULL,
    kind      text        NOT NULL,
    event_id  text        NOT NULL,
    actor     text        NOT NULL,
    subject   text        NOT NULL,
    amount    bigint      NULL,
    details   text        NULL,      -- text, not jsonb: the hash covers the exact characters
    prev_hash char(64)    NOT NULL,
    hash      char(64)    NOT NULL,
    CONSTRAINT pk_grid_ledger_entry PRIMARY KEY (seq),
    CONSTRAINT uq_grid_ledger_entry_event UNIQUE (event_id)
);

-- Money of each entry, one row per posting in the entry's order. kind is copied from the entry so an account
-- folds (balance, spent, earned) from its own index range without a join.
CREATE TABLE IF NOT EXISTS grid_ledger_posting
(
    seq        bigint NOT NULL,
    idx        int    NOT NULL,
    account_id bigint NOT NULL,
    amount     bigint NOT NULL,
    kind       text   NOT NULL,
    CONSTRAINT pk_grid_ledger_posting PRIMARY KEY (seq, idx)
);
CREATE INDEX IF NOT EXISTS ix_grid_ledger_posting_account ON grid_ledger_posting (account_id, seq) INCLUDE (amount, kind);

CREATE TABLE IF NOT EXISTS grid_ledger_checkpoint
(
    seq        bigint      NOT NULL,
    hash       char(64)    NOT NULL,
    at         timestamptz NOT NULL,
    signature  char(128)   NOT NULL,
    public_key char(64)    NOT NULL,
    CONSTRAINT pk_grid_ledger_checkpoint PRIMARY KEY (seq)
);

-- Append-only: rows are never changed or removed, not even by the grid itself.
CREATE OR REPLACE FUNCTION grid_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the grid ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE TRIGGER grid_ledger_entry_append_only BEFORE UPDATE OR DELETE ON grid_ledger_entry
    FOR EACH ROW EXECUTE FUNCTION grid_ledger_refuse_change();
CREATE OR REPLACE TRIGGER grid_ledger_entry_no_truncate BEFORE TRUNCATE ON grid_ledger_entry
    FOR EACH STATEMENT EXECUTE FUNCTION grid_ledger_refuse_change();
CREATE OR REPLACE TRIGGER grid_ledger_posting_append_only BEFORE UPDATE OR DELETE ON grid_ledger_posting
    FOR EACH ROW EXECUTE FUNCTION grid_ledger_refuse_change();
CREATE OR REPLACE TRIGGER grid_ledger_posting_no_truncate BEFORE TRUNCATE ON grid_ledger_posting
    FOR EACH STATEMENT EXECUTE FUNCTION grid_ledger_refuse_change();
CREATE OR REPLACE TRIGGER grid_ledger_checkpoint_append_only BEFORE UPDATE OR DELETE ON grid_ledger_checkpoint
    FOR EACH ROW EXECUTE FUNCTION grid_ledger_refuse_change();
