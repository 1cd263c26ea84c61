-- The risk score: each trained model (a version per training), its metrics on the holdout, its
-- holdout predictions (for a reader to recompute the metrics), and each loan's latest score.
CREATE TABLE score_models (
    version       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('behaviour', 'application')),
    trained_on    TEXT NOT NULL,
    as_of         TEXT NOT NULL,
    model         TEXT NOT NULL,
    metrics       TEXT NOT NULL,
    training_rows BIGINT NOT NULL,
    holdout_rows  BIGINT NOT NULL,
    psi           DOUBLE PRECISION,
    flagged       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE score_predictions (
    model_version BIGINT NOT NULL REFERENCES score_models (version),
    loan_id       BIGINT NOT NULL,
    observed_on   TEXT NOT NULL,
    probability   DOUBLE PRECISION NOT NULL,
    event         BIGINT NOT NULL
);
CREATE INDEX score_predictions_model ON score_predictions (model_version);
CREATE TABLE loan_scores (
    loan_id        BIGINT PRIMARY KEY,
    model_version  BIGINT NOT NULL,
    scored_on      TEXT NOT NULL,
    probability_bp BIGINT NOT NULL,
    band           TEXT NOT NULL,
    factors        TEXT NOT NULL
);
