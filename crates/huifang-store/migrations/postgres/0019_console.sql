-- The web console: why a borrower's personal data was revealed (the reason asked by the
-- console; empty for an older reveal). A console session also ends after a while without use (its idle deadline,
-- pushed forward by every page; NULL for API sessions, which end at expires_at only), and each
-- user's language ('zh' or 'en'), remembered across sign-ins.
ALTER TABLE sessions ADD COLUMN idle_expires_at TEXT;
ALTER TABLE users ADD COLUMN lang TEXT NOT NULL DEFAULT 'zh' CHECK (lang IN ('zh', 'en'));
ALTER TABLE reveals ADD COLUMN reason TEXT NOT NULL DEFAULT '';

-- Quality reviews of contacts (质检): a team lead's score (0 to 100) and comment on a contact made
-- by a member of their team; one review per contact.
CREATE TABLE interaction_reviews (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    interaction_id BIGINT NOT NULL UNIQUE REFERENCES interactions (id),
    reviewer_id    BIGINT NOT NULL REFERENCES users (id),
    score          INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    comment        TEXT NOT NULL DEFAULT '',
    reviewed_at    TEXT NOT NULL,
    business_date  TEXT NOT NULL
);

-- A loan's promises, read by its task page and its 360° view.
CREATE INDEX promises_loan ON promises (loan_id);

-- A loan's warnings, open and cleared (its view), without scanning every warning.
CREATE INDEX warnings_loan ON warnings (loan_id, id);
