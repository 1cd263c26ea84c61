-- The risk score: each trained model (a version per training), its metrics on the holdout, its
-- holdout predictions (for a reader to recompute the metrics), and each loan's latest score.
CREATE TABLE score_models (
    version       INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('behaviour', 'application')),
    trained_on    TEXT NOT NULL,
    as_of         TEXT NOT NULL,
    model         TEXT NOT NULL,
    metrics       TEXT NOT NULL,
    training_rows INTEGER NOT NULL,
    holdout_rows  INTEGER NOT NULL,
    psi           REAL,
    flagged       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE score_predictions (
    model_version INTEGER NOT NULL REFERENCES score_models (version),
    loan_id       INTEGER NOT NULL,
    observed_on   TEXT NOT NULL,
    probability   REAL NOT NULL,
    event         INTEGER NOT NULL
);
CREATE INDEX score_predictions_model ON score_predictions (model_version);
CREATE TABLE loan_scores (
    loan_id        INTEGER PRIMARY KEY,
    model_version  INTEGER NOT NULL,
    scored_on      TEXT NOT NULL,
    probability_bp INTEGER NOT NULL,
    band           TEXT NOT NULL,
    factors        TEXT NOT NULL
);
