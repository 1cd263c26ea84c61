-- Vehicle monitoring. Trackers are bound to loans by the VIN their first event names; each
-- tracker's clear columns are what the offline sweep reads (when it was last heard from; times
-- are Unix seconds). Positions are personal data: an event's fix and a vehicle's watch (the
-- last fixes, the stay being timed) are sealed like ID numbers (huifang-store's pii.rs).
CREATE INDEX loans_vin ON loans (vin);

CREATE TABLE places (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('pawn_shop', 'used_car_market')),
    name        TEXT NOT NULL,
    lat_e6      BIGINT NOT NULL,
    lon_e6      BIGINT NOT NULL,
    radius_m    BIGINT NOT NULL CHECK (radius_m > 0)
);

CREATE TABLE trackers (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device            TEXT NOT NULL UNIQUE,
    loan_id           BIGINT NOT NULL REFERENCES loans (id),
    tracker           TEXT NOT NULL CHECK (tracker IN ('wired', 'wireless')),
    bound_at          TEXT NOT NULL,
    last_seen         BIGINT NOT NULL,
    offline_signalled BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX trackers_loan ON trackers (loan_id);
CREATE INDEX trackers_silent ON trackers (last_seen) WHERE tracker = 'wired' AND offline_signalled = 0;

-- Per loan: the province of registration (from the borrower's ID number) and the sealed watch.
CREATE TABLE vehicle_watch (
    loan_id  BIGINT PRIMARY KEY REFERENCES loans (id),
    province TEXT NOT NULL,
    watch    TEXT NOT NULL
);

CREATE TABLE tracker_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tracker_id  BIGINT NOT NULL REFERENCES trackers (id),
    loan_id     BIGINT NOT NULL REFERENCES loans (id),
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    fix         TEXT,
    received_at TEXT NOT NULL,
    UNIQUE (tracker_id, at, kind)
);
CREATE INDEX tracker_events_loan ON tracker_events (loan_id, at);
CREATE INDEX tracker_events_at ON tracker_events (at);

-- Every view of a vehicle's locations, by whom and when (PIPL: location tracks are sensitive).
CREATE TABLE location_views (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id),
    loan_id       BIGINT NOT NULL REFERENCES loans (id),
    viewed_at     TEXT NOT NULL,
    business_date TEXT NOT NULL
);
CREATE INDEX location_views_loan ON location_views (loan_id, id);
