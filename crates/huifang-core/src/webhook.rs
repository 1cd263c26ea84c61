//! Events out: the kinds of event a subscriber may take, and which stored event each is.

use std::fmt;

/// An event a webhook subscriber may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// An installment passed its due date unpaid.
    InstallmentOverdue,
    /// A loan moved to another overdue bucket.
    BucketChanged,
    /// A loan moved to another of the five tiers.
    ClassificationChanged,
    /// A loan's warning level rose.
    WarningRaised,
    /// A loan's warning level fell (resolved, or to a lower level).
    WarningResolved,
    /// A loan was paid off.
    PaidOff,
    /// A payment was posted.
    PaymentPosted,
    /// A risk officer's decision was applied to a loan.
    DecisionMade,
    /// A promise to pay passed its date unkept (found by the close).
    PromiseBroken,
    /// A test delivery (`huifang webhook test`).
    Ping,
}

impl EventKind {
    /// The kinds a subscriber may ask for.
    pub const ALL: [EventKind; 9] = [
        EventKind::InstallmentOverdue,
        EventKind::BucketChanged,
        EventKind::ClassificationChanged,
        EventKind::WarningRaised,
        EventKind::WarningResolved,
        EventKind::PaidOff,
        EventKind::PaymentPosted,
        EventKind::DecisionMade,
        EventKind::PromiseBroken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::InstallmentOverdue => "installment_overdue",
            EventKind::BucketChanged => "bucket_changed",
            EventKind::ClassificationChanged => "classification_changed",
            EventKind::WarningRaised => "warning_raised",
            EventKind::WarningResolved => "warning_resolved",
            EventKind::PaidOff => "paid_off",
            EventKind::PaymentPosted => "payment_posted",
            EventKind::DecisionMade => "decision_made",
            EventKind::PromiseBroken => "promise_broken",
            EventKind::Ping => "ping",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        Self::ALL
            .into_iter()
            .chain([EventKind::Ping])
            .find(|k| k.as_str() == s)
    }

    /// The kind of a stored loan event (`LoanEvent::kind`); none for those not sent out (the
    /// reminders, which go to borrowers, and write-offs, which are decisions).
    pub fn of_loan_event(kind: &str) -> Option<EventKind> {
        match kind {
            "installment_overdue" => Some(EventKind::InstallmentOverdue),
            "bucket_changed" => Some(EventKind::BucketChanged),
            "classification_changed" => Some(EventKind::ClassificationChanged),
            "warning_raised" => Some(EventKind::WarningRaised),
            "warning_cleared" => Some(EventKind::WarningResolved),
            "paid_off" => Some(EventKind::PaidOff),
            _ => None,
        }
    }

    /// A subscriber's kinds from a comma-separated list (`all`: every kind), without repeats.
    pub fn parse_list(text: &str) -> Result<Vec<EventKind>, String> {
        let mut kinds = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                kinds.extend(Self::ALL);
                continue;
            }
            match Self::parse(name).filter(|k| *k != EventKind::Ping) {
                Some(k) => kinds.push(k),
                None => {
                    return Err(format!(
                        "unknown event kind {name:?} (expected all or {})",
                        Self::ALL.map(EventKind::as_str).join(", ")
                    ));
                }
            }
        }
        kinds.sort_unstable();
        kinds.dedup();
        if kinds.is_empty() {
            return Err("no event kind given".into());
        }
        Ok(kinds)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_back_and_lists_refuse_unknown_names() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(
            EventKind::parse_list("payment_posted, bucket_changed,payment_posted"),
            Ok(vec![EventKind::BucketChanged, EventKind::PaymentPosted])
        );
        assert_eq!(EventKind::parse_list("all").map(|k| k.len()), Ok(9));
        assert!(EventKind::parse_list("ping").is_err());
        assert!(EventKind::parse_list("overdue").is_err());
        assert!(EventKind::parse_list(" ,").is_err());
        assert_eq!(
            EventKind::of_loan_event("warning_cleared"),
            Some(EventKind::WarningResolved)
        );
        assert_eq!(EventKind::of_loan_event("reminder_due"), None);
    }
}
