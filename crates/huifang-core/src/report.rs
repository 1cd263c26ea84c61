//! The five-tier classification report (五级分类): loans and outstanding principal per tier on a
//! date, and the migration matrix between two dates — how many loans, and how much of the
//! balance they had on the first date, moved from each tier to each tier.

use std::collections::BTreeMap;

use crate::money::Money;
use crate::policy::Classification;

/// Loans and outstanding principal of one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TierTotal {
    pub loans: u64,
    pub balance: Money,
}

impl TierTotal {
    fn add(&mut self, balance: Money) {
        self.loans += 1;
        self.balance += balance;
    }
}

/// A loan's tier and outstanding principal on a date; `None` when it was not on the book (not
/// disbursed yet, or paid off).
pub type TierOn = Option<(Classification, Money)>;

/// The report between two dates, built one loan at a time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TierMigration {
    /// Per tier on the first date.
    pub from: BTreeMap<Classification, TierTotal>,
    /// Per tier on the second date.
    pub to: BTreeMap<Classification, TierTotal>,
    /// (tier on the first date, tier on the second) → loans and their balance on the first date
    /// (on the second, for loans new to the book, whose first tier is `None`); a second tier of
    /// `None` counts the loans that left the book (paid off).
    pub cells: BTreeMap<(Option<Classification>, Option<Classification>), TierTotal>,
}

impl TierMigration {
    /// Counts one loan.
    pub fn add(&mut self, first: TierOn, second: TierOn) {
        if let Some((tier, balance)) = first {
            self.from.entry(tier).or_default().add(balance);
        }
        if let Some((tier, balance)) = second {
            self.to.entry(tier).or_default().add(balance);
        }
        if let Some(moved) = first.or(second).map(|(_, b)| b) {
            self.cells
                .entry((first.map(|(t, _)| t), second.map(|(t, _)| t)))
                .or_default()
                .add(moved);
        }
    }

    /// The share (in basis points, rounded half-up) of the first tier's loans that moved to the
    /// second tier; `None` when the first tier had no loan.
    pub fn rate_bp(&self, from: Classification, to: Classification) -> Option<u64> {
        let total = self.from.get(&from)?.loans;
        let moved = self
            .cells
            .get(&(Some(from), Some(to)))
            .map_or(0, |c| c.loans);
        (total > 0).then(|| (moved * 20_000 + total) / (total * 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Classification as C;

    fn m(fen: i64) -> Money {
        Money::from_fen(fen)
    }

    #[test]
    fn loans_are_counted_where_they_were_and_where_they_went() {
        let mut r = TierMigration::default();
        r.add(Some((C::Normal, m(1_000))), Some((C::Normal, m(900))));
        r.add(
            Some((C::Normal, m(2_000))),
            Some((C::SpecialMention, m(1_900))),
        );
        r.add(Some((C::Normal, m(500))), Some((C::SpecialMention, m(500))));
        r.add(None, Some((C::Normal, m(3_000))));
        r.add(Some((C::Substandard, m(700))), None);
        assert_eq!(
            r.from[&C::Normal],
            TierTotal {
                loans: 3,
                balance: m(3_500)
            }
        );
        assert_eq!(r.to[&C::SpecialMention].balance, m(2_400));
        assert_eq!(
            r.cells[&(Some(C::Normal), Some(C::SpecialMention))],
            TierTotal {
                loans: 2,
                balance: m(2_500)
            }
        );
        assert_eq!(r.cells[&(None, Some(C::Normal))].balance, m(3_000));
        assert_eq!(r.cells[&(Some(C::Substandard), None)].balance, m(700));
        assert_eq!(r.rate_bp(C::Normal, C::SpecialMention), Some(6_667));
        assert_eq!(r.rate_bp(C::Normal, C::Normal), Some(3_333));
        assert_eq!(r.rate_bp(C::Doubtful, C::Loss), None);
    }
}
