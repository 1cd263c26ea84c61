-- Personal data sealed at rest (huifang-store's pii.rs): `id_number` and `mobile` hold
-- `pii1.KEY.…` (XChaCha20-Poly1305 under a data key kept outside the database); `*_lookup` the
-- keyed hash of the clear value under that key, for exact lookups; `*_masked` what is shown
-- without a reveal. Rows written before this migration hold clear values, which are read as they
-- are until `huifang keys rotate` seals them.
ALTER TABLE borrowers ADD COLUMN id_number_lookup TEXT;
ALTER TABLE borrowers ADD COLUMN mobile_lookup TEXT;
ALTER TABLE borrowers ADD COLUMN id_number_masked TEXT NOT NULL DEFAULT '';
ALTER TABLE borrowers ADD COLUMN mobile_masked TEXT NOT NULL DEFAULT '';
CREATE INDEX borrowers_mobile_lookup ON borrowers (mobile_lookup);
ALTER TABLE emergency_contacts ADD COLUMN mobile_lookup TEXT;
ALTER TABLE emergency_contacts ADD COLUMN mobile_masked TEXT NOT NULL DEFAULT '';
CREATE INDEX emergency_contacts_lookup ON emergency_contacts (borrower_id, mobile_lookup);
-- The borrower's repayment account (还款账户, the account withholding debits), when the
-- borrower file gives one: sealed like the ID number, shown masked.
ALTER TABLE borrowers ADD COLUMN bank_account TEXT;
ALTER TABLE borrowers ADD COLUMN bank_account_masked TEXT;
