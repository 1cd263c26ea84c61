-- Tamper-evident record (SQLite): an RFC 6962 Merkle log of warnings, decisions, documents and,
-- later, interaction records. See docs/LEDGER.md for the leaf encoding.

-- Every logged record keeps the salt of its commitment (16 random bytes, hex).
ALTER TABLE warnings ADD COLUMN salt TEXT;
ALTER TABLE loan_ops ADD COLUMN salt TEXT;

-- Documents registered by their SHA-256 (income proofs, contracts, ID scans).
CREATE TABLE documents (
    id            INTEGER PRIMARY KEY,
    owner_kind    TEXT NOT NULL CHECK (owner_kind IN ('loan', 'borrower')),
    owner_id      INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    salt          TEXT NOT NULL,
    registered_on TEXT NOT NULL
);
CREATE INDEX documents_sha256 ON documents (sha256);
CREATE INDEX documents_owner ON documents (owner_kind, owner_id);

-- The log: one row per leaf, indexes dense from 0.
CREATE TABLE ledger_leaves (
    leaf_index INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    record_id  INTEGER NOT NULL,
    leaf_hex   TEXT NOT NULL,
    leaf_hash  TEXT NOT NULL,
    UNIQUE (kind, record_id)
);

-- Hashes of the complete subtrees of height >= 1: the subtree at (level, node_index) covers
-- leaves node_index * 2^level .. (node_index + 1) * 2^level. Level 0 is ledger_leaves.leaf_hash.
CREATE TABLE ledger_nodes (
    level      INTEGER NOT NULL,
    node_index INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (level, node_index)
) WITHOUT ROWID;

-- The writer's state: the tree size and its frontier (hex hashes of the right-edge complete
-- subtrees, largest first, concatenated). Its single row is also the appenders' lock.
CREATE TABLE ledger_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    tree_size INTEGER NOT NULL,
    frontier  TEXT NOT NULL
);
INSERT INTO ledger_state (id, tree_size, frontier) VALUES (1, 0, '');

-- Signed checkpoints (C2SP tlog-checkpoint notes).
CREATE TABLE ledger_checkpoints (
    id            INTEGER PRIMARY KEY,
    tree_size     INTEGER NOT NULL,
    root_hex      TEXT NOT NULL,
    note          TEXT NOT NULL,
    business_date TEXT NOT NULL
);
