-- The grid-proxy read model in durable mode: twins, farms, contracts (reservations), bills and per-twin consumption,
-- folded from grid_ledger_entry by the host's projector (Grid.Proxy.PostgresProxyProjector). Every batch of
-- entries is applied in one transaction together with the position row's move, so each entry changes these tables
-- exactly once, whichever silo applies it and however often silos restart. Only the projector writes here.
CREATE TABLE IF NOT EXISTS grid_proxy_position
(
    id  int    NOT NULL,
    seq bigint NOT NULL,     -- the last ledger entry applied
    CONSTRAINT pk_grid_proxy_position PRIMARY KEY (id),
    CONSTRAINT ck_grid_proxy_position_single CHECK (id = 1)
);
INSERT INTO grid_proxy_position (id, seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS grid_proxy_twin
(
    twin_id bigint NOT NULL,
    name    text   NOT NULL,
    CONSTRAINT pk_grid_proxy_twin PRIMARY KEY (twin_id)
);

CREATE TABLE IF NOT EXISTS grid_proxy_farm
(
    farm_id       bigint NOT NULL,
    twin_id       bigint NOT NULL,
    name          text   NOT NULL,
    certification text   NOT NULL,
    public_ips    text[] NOT NULL,
    CONSTRAINT pk_grid_proxy_farm PRIMARY KEY (farm_id)
);
CREATE INDEX IF NOT EXISTS ix_grid_proxy_farm_name ON grid_proxy_farm (lower(name));

-- A farm's address pool, one row per address in registration order, and the contract holding it (0 when free):
-- set by reservation.placed/moved (their ips), cleared by reservation.cancelled.
CREATE TABLE IF NOT EXISTS grid_proxy_public_ip
(
    farm_id     bigint NOT NULL,
    ip          text   NOT NULL,
    gateway     text   NOT NULL,
    position    int    NOT NULL,
    contract_id bigint NOT NULL DEFAULT 0,
    CONSTRAINT pk_grid_proxy_public_ip PRIMARY KEY (farm_id, ip)
);
CREATE INDEX IF NOT EXISTS ix_grid_proxy_public_ip_contract ON grid_proxy_public_ip (contract_id) WHERE contract_id <> 0;
-- Farms folded before addresses had rows of their own: their pool, holders unknown (free) until the next placement.
INSERT INTO grid_proxy_public_ip (farm_id, ip, gateway, position)
SELECT f.farm_id, a.ip, '', a.ordinal - 1 FROM grid_proxy_farm f, unnest(f.public_ips) WITH ORDINALITY AS a(ip, ordinal)
ON CONFLICT (farm_id, ip) DO NOTHING;

-- One row per reservation and per rent contract. The last two bills are kept on the row, so a twin's last-hour consumption reads only its
-- contracts; bill_count is how many bills the contract has had.
CREATE TABLE IF NOT EXISTS grid_proxy_contract
(
    contract_id      bigint NOT NULL,
    twin_id          bigint NOT NULL,
    state            text   NOT NULL,
    created_at       bigint NOT NULL,  -- unix seconds
    node_id          bigint NOT NULL,
    farm_id          bigint NOT NULL,
    public_ips       int    NOT NULL,
    bill_count       int    NOT NULL DEFAULT 0,
    last_bill_amount bigint NOT NULL DEFAULT 0,
    last_bill_at     bigint NULL,
    prev_bill_at     bigint NULL,
    CONSTRAINT pk_grid_proxy_contract PRIMARY KEY (contract_id)
);
-- /contracts?twin_id= (the common query: a twin's own contracts), node_id= and farm_id=.
CREATE INDEX IF NOT EXISTS ix_grid_proxy_contract_twin ON grid_proxy_contract (twin_id, contract_id);
CREATE INDEX IF NOT EXISTS ix_grid_proxy_contract_node ON grid_proxy_contract (node_id, contract_id);
CREATE INDEX IF NOT EXISTS ix_grid_proxy_contract_farm ON grid_proxy_contract (farm_id, contract_id);
-- The grid proxy's contract type: 'node' (a reservation) or 'rent' (a rent contract, node.rented .. node.released).
-- Added in place: a release that does not know the column still inserts node contracts (the default).
ALTER TABLE grid_proxy_contract ADD COLUMN IF NOT EXISTS type text NOT NULL DEFAULT 'node';

CREATE TABLE IF NOT EXISTS grid_proxy_bill
(
    contract_id bigint NOT NULL,
    sequence    bigint NOT NULL,
    twin_id     bigint NOT NULL,
    amount      bigint NOT NULL,   -- minor units
    billed_at   bigint NOT NULL,   -- unix seconds: the end of the billed period
    CONSTRAINT pk_grid_proxy_bill PRIMARY KEY (contract_id, sequence)
);
CREATE INDEX IF NOT EXISTS ix_grid_proxy_bill_newest ON grid_proxy_bill (contract_id, billed_at DESC, sequence DESC);

-- Every bill a twin was charged, summed as bills arrive (minor units).
CREATE TABLE IF NOT EXISTS grid_proxy_consumption
(
    twin_id bigint NOT NULL,
    overall bigint NOT NULL,
    CONSTRAINT pk_grid_proxy_consumption PRIMARY KEY (twin_id)
);
