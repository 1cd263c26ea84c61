-- Message templates set by the lender, per event, language and channel (one row each; an
-- event without a row uses the default text of `huifang_core::template`). `subject` is empty
-- except on email. `set_on` is the business date it was set, `set_by` who set it.
CREATE TABLE message_templates (
    event   TEXT NOT NULL,
    lang    TEXT NOT NULL CHECK (lang IN ('zh', 'en')),
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'wechat', 'email')),
    subject TEXT NOT NULL DEFAULT '',
    body    TEXT NOT NULL,
    set_on  TEXT NOT NULL,
    set_by  BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (event, lang, channel)
);
