//! Message templates set by the lender (an event, language and channel without one uses the
//! core's default text).

use huifang_core::{Date, UserId};
use sqlx::Row;

use crate::sql::{date_text, parse_date_col};
use crate::{Result, Tx};

/// A stored template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTemplate {
    pub event: String,
    pub lang: String,
    pub channel: String,
    pub subject: String,
    pub body: String,
    pub set_on: Date,
    pub set_by: UserId,
}

impl Tx {
    /// Every stored template.
    pub async fn message_templates(&mut self) -> Result<Vec<StoredTemplate>> {
        let rows = sqlx::query("SELECT event, lang, channel, subject, body, set_on, set_by FROM message_templates ORDER BY event, lang, channel")
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredTemplate {
                    event: r.try_get(0)?,
                    lang: r.try_get(1)?,
                    channel: r.try_get(2)?,
                    subject: r.try_get(3)?,
                    body: r.try_get(4)?,
                    set_on: parse_date_col(&r.try_get::<String, _>(5)?)?,
                    set_by: UserId(r.try_get(6)?),
                })
            })
            .collect()
    }

    /// Stores a template, replacing the one of its event, language and channel.
    pub async fn put_message_template(&mut self, t: &StoredTemplate) -> Result<()> {
        sqlx::query("INSERT INTO message_templates (event, lang, channel, subject, body, set_on, set_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event, lang, channel) DO UPDATE SET subject = excluded.subject, body = excluded.body, set_on = excluded.set_on, set_by = excluded.set_by")
            .bind(t.event.as_str())
            .bind(t.lang.as_str())
            .bind(t.channel.as_str())
            .bind(t.subject.as_str())
            .bind(t.body.as_str())
            .bind(date_text(t.set_on))
            .bind(t.set_by.get())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
