-- The web console: why a borrower's personal data was revealed (the reason asked by the
-- console; empty for an older reveal). A console session also ends after a while without use (its idle deadline,
-- pushed forward by every page; NULL for API sessions, which end at expires_at only), and each
-- user's language ('zh' or 'en'), remembered across sign-ins.
ALTER TABLE sessions ADD COLUMN idle_expires_at TEXT;
ALTER TABLE users ADD COLUMN lang TEXT NOT NULL DEFAULT 'zh' CHECK (lang IN ('zh', 'en'));
ALTER TABLE reveals ADD COLUMN reason TEXT NOT NULL DEFAULT '';
