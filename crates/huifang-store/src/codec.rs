//! The stored text form of loan operations' parameters (`key=value;key=value`).

use huifang_core::Rate;
use huifang_core::loan::{LoanOp, OpKind};

/// Encodes an operation as (kind, params).
pub fn encode_op(op: &LoanOp) -> (&'static str, String) {
    let params = match op {
        LoanOp::Defer { months } | LoanOp::PaymentHoliday { months } => {
            format!("months={months}")
        }
        LoanOp::Restructure {
            annual_rate,
            term_months,
            method,
        } => format!("annual_rate={annual_rate};term_months={term_months};method={method}"),
        LoanOp::EarlySettlement | LoanOp::Acceleration | LoanOp::WriteOff => String::new(),
        LoanOp::Classify { floor } => format!("floor={floor}"),
    };
    (op.kind().as_str(), params)
}

/// Decodes what [`encode_op`] wrote.
pub fn decode_op(kind: &str, params: &str) -> Result<LoanOp, String> {
    let kind: OpKind = kind.parse()?;
    let get = |key: &str| -> Result<&str, String> {
        params
            .split(';')
            .find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .ok_or_else(|| format!("{kind} is missing {key}"))
    };
    Ok(match kind {
        OpKind::Defer => LoanOp::Defer {
            months: get("months")?
                .parse()
                .map_err(|_| "bad months".to_string())?,
        },
        OpKind::PaymentHoliday => LoanOp::PaymentHoliday {
            months: get("months")?
                .parse()
                .map_err(|_| "bad months".to_string())?,
        },
        OpKind::Restructure => LoanOp::Restructure {
            annual_rate: Rate::parse_annual(get("annual_rate")?).map_err(|e| e.to_string())?,
            term_months: get("term_months")?
                .parse()
                .map_err(|_| "bad term_months".to_string())?,
            method: get("method")?.parse()?,
        },
        OpKind::EarlySettlement => LoanOp::EarlySettlement,
        OpKind::Acceleration => LoanOp::Acceleration,
        OpKind::WriteOff => LoanOp::WriteOff,
        OpKind::Classify => LoanOp::Classify {
            floor: get("floor")?.parse()?,
        },
    })
}
