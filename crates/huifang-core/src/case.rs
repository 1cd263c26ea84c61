//! Cases with a life of their own, opened on a loan by a risk officer's decision: a
//! repossession (收车: assigned → located → recovered → sold, the sale's proceeds posted as a
//! payment) and a legal case (诉讼: filed → judgment → enforcement, what enforcement recovers
//! posted as a payment). A case moves one stage forward at a time, or is closed (withdrawn,
//! settled) from any open stage; a closed case takes no more steps.

use std::fmt;
use std::str::FromStr;

use crate::money::Money;

/// The kinds of case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseKind {
    /// 收车: the vehicle is repossessed and sold.
    Repossession,
    /// 诉讼: the lender sues and enforces the judgment.
    Legal,
}

impl CaseKind {
    pub const ALL: [CaseKind; 2] = [CaseKind::Repossession, CaseKind::Legal];

    /// The name used in storage, files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Repossession => "repossession",
            CaseKind::Legal => "legal",
        }
    }

    /// The stages of a case of this kind, in order (the first is where it opens).
    pub fn stages(self) -> &'static [CaseStage] {
        match self {
            CaseKind::Repossession => &[
                CaseStage::Assigned,
                CaseStage::Located,
                CaseStage::Recovered,
                CaseStage::Sold,
            ],
            CaseKind::Legal => &[
                CaseStage::Filed,
                CaseStage::Judgment,
                CaseStage::Enforcement,
            ],
        }
    }

    /// The stage a case of this kind opens at.
    pub fn first(self) -> CaseStage {
        match self {
            CaseKind::Repossession => CaseStage::Assigned,
            CaseKind::Legal => CaseStage::Filed,
        }
    }
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CaseKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown case kind {s:?} (repossession or legal)"))
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseStage {
    /// 已派单: a repossession agent is assigned.
    Assigned,
    /// 已定位: the vehicle is located.
    Located,
    /// 已收回: the vehicle is recovered.
    Recovered,
    /// 已处置: the vehicle is sold; the proceeds are posted as a payment.
    Sold,
    /// 已立案: the suit is filed.
    Filed,
    /// 已判决: the court's judgment.
    Judgment,
    /// 强制执行: the judgment is enforced; what it recovers is posted as a payment.
    Enforcement,
    /// 已结案: closed (withdrawn, settled, or done).
    Closed,
}

impl CaseStage {
    pub const ALL: [CaseStage; 8] = [
        CaseStage::Assigned,
        CaseStage::Located,
        CaseStage::Recovered,
        CaseStage::Sold,
        CaseStage::Filed,
        CaseStage::Judgment,
        CaseStage::Enforcement,
        CaseStage::Closed,
    ];

    /// The name used in storage, files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStage::Assigned => "assigned",
            CaseStage::Located => "located",
            CaseStage::Recovered => "recovered",
            CaseStage::Sold => "sold",
            CaseStage::Filed => "filed",
            CaseStage::Judgment => "judgment",
            CaseStage::Enforcement => "enforcement",
            CaseStage::Closed => "closed",
        }
    }

    /// Whether a step to this stage posts an amount as a payment on the loan: required for a
    /// sale, optional for enforcement.
    pub fn collects(self) -> Collects {
        match self {
            CaseStage::Sold => Collects::Required,
            CaseStage::Enforcement => Collects::Optional,
            _ => Collects::Never,
        }
    }
}

impl fmt::Display for CaseStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseStage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CaseStage::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown case stage {s:?}"))
    }
}

/// Whether a stage's step carries an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collects {
    Never,
    Optional,
    Required,
}

/// Why a step is refused: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRefusal {
    pub field: &'static str,
    pub reason: String,
}

/// The stages a case of `kind` at `from` may move to: the next stage of its kind, then closed;
/// none once closed.
pub fn next_stages(kind: CaseKind, from: CaseStage) -> Vec<CaseStage> {
    if from == CaseStage::Closed {
        return Vec::new();
    }
    let stages = kind.stages();
    stages
        .iter()
        .position(|s| *s == from)
        .and_then(|i| stages.get(i + 1))
        .copied()
        .into_iter()
        .chain([CaseStage::Closed])
        .collect()
}

/// Whether a case of `kind` at `from` may move to `to` with `amount`: the next stage of its kind
/// (an amount where the stage collects one, positive, and none elsewhere), or closed from any
/// open stage (no amount).
pub fn check_step(
    kind: CaseKind,
    from: CaseStage,
    to: CaseStage,
    amount: Option<Money>,
) -> Result<(), StepRefusal> {
    let refuse = |field, reason: String| Err(StepRefusal { field, reason });
    if from == CaseStage::Closed {
        return refuse("stage", "the case is closed: it takes no more steps".into());
    }
    let allowed = next_stages(kind, from);
    let next = allowed.first().filter(|s| **s != CaseStage::Closed);
    if !allowed.contains(&to) {
        let expected = next.map_or_else(|| "closed".to_string(), |n| format!("{n} (or closed)"));
        return refuse(
            "stage",
            format!("a {kind} case at {from} moves to {expected}, not {to}"),
        );
    }
    match (to.collects(), amount) {
        (Collects::Required, None) => refuse(
            "amount",
            format!("a step to {to} posts its amount as a payment: the amount is required"),
        ),
        (Collects::Never, Some(_)) => refuse("amount", format!("a step to {to} carries no amount")),
        (_, Some(a)) if !a.is_positive() => refuse("amount", format!("must be positive, not {a}")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_moves_forward_one_stage_or_closes() {
        use CaseStage::*;
        let m = Money::from_fen;
        let k = CaseKind::Repossession;
        assert_eq!(k.first(), Assigned);
        for kind in CaseKind::ALL {
            assert_eq!(kind.stages().first(), Some(&kind.first()));
        }
        assert!(check_step(k, Assigned, Located, None).is_ok());
        assert!(check_step(k, Located, Recovered, None).is_ok());
        assert!(check_step(k, Recovered, Sold, Some(m(5_000_000))).is_ok());
        assert!(check_step(k, Assigned, Closed, None).is_ok());
        assert!(check_step(k, Sold, Closed, None).is_ok());
        let field = |r: Result<(), StepRefusal>| r.map_err(|e| e.field);
        assert_eq!(
            field(check_step(k, Assigned, Recovered, None)),
            Err("stage")
        );
        assert_eq!(field(check_step(k, Located, Assigned, None)), Err("stage"));
        assert_eq!(field(check_step(k, Sold, Sold, Some(m(1)))), Err("stage"));
        assert_eq!(field(check_step(k, Closed, Closed, None)), Err("stage"));
        assert_eq!(field(check_step(k, Assigned, Filed, None)), Err("stage"));
        assert_eq!(field(check_step(k, Recovered, Sold, None)), Err("amount"));
        assert_eq!(
            field(check_step(k, Recovered, Sold, Some(m(0)))),
            Err("amount")
        );
        assert_eq!(
            field(check_step(k, Assigned, Located, Some(m(1)))),
            Err("amount")
        );
        let l = CaseKind::Legal;
        assert_eq!(l.first(), Filed);
        assert!(check_step(l, Filed, Judgment, None).is_ok());
        assert!(check_step(l, Judgment, Enforcement, None).is_ok());
        assert!(check_step(l, Judgment, Enforcement, Some(m(100))).is_ok());
        assert_eq!(field(check_step(l, Filed, Enforcement, None)), Err("stage"));
        let e = check_step(l, Filed, Sold, None).unwrap_err();
        assert_eq!(
            e.reason,
            "a legal case at filed moves to judgment (or closed), not sold"
        );
        for s in CaseStage::ALL {
            assert_eq!(s.as_str().parse::<CaseStage>(), Ok(s));
        }
        for k in CaseKind::ALL {
            assert_eq!(k.as_str().parse::<CaseKind>(), Ok(k));
        }
    }
}
