-- Schedules, interest and penalty are rounded half-up from their exact rational value (a figure
-- of exactly half a fen now rounds up). The stored evaluations of a book kept before were derived
-- with the old rounding: every loan is made due at the day after the business date, so the next
-- close replays each one once with the exact figures and stores what it derives (its next event
-- date included). A database without a business date has no evaluations to redo.
UPDATE loan_state
SET next_event_on = date((SELECT value FROM settings WHERE key = 'business_date'), '+1 day')
WHERE EXISTS (SELECT 1 FROM settings WHERE key = 'business_date');
