//! The validated rows of the import formats (`products.csv`, `borrowers.csv`, `loans.csv`,
//! `payments.csv`). A row exists only once every field has been parsed into its core type.

use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::schedule::Method;
use huifang_core::{Date, Money, Rate};

/// `products.csv`: code,name,grace_days,penalty_rate_markup
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRow {
    pub code: String,
    pub name: String,
    pub grace_days: u32,
    pub penalty_rate_markup: Rate,
}

/// `borrowers.csv`: external_id,name,id_number,mobile,employer,monthly_income,city, and the
/// optional columns of its contacts (`files::BORROWER_OPTIONAL_COLUMNS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BorrowerRow {
    pub external_id: String,
    pub name: String,
    pub id_number: ResidentId,
    pub mobile: Mobile,
    pub employer: String,
    pub monthly_income: Money,
    pub city: String,
    /// From the optional columns; none when the file has none.
    pub contacts: BorrowerContacts,
}

/// A borrower's contacts beyond the mobile, and the repayment account, from the optional
/// columns of `borrowers.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BorrowerContacts {
    pub email: Option<String>,
    pub wechat_id: Option<String>,
    pub emergency: Option<EmergencyRow>,
    /// 还款账户: the account withholding debits, 10 to 30 digits.
    pub bank_account: Option<String>,
}

/// An emergency contact: name, relation, mobile and the day they consented (none: no consent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyRow {
    pub name: String,
    pub relation: String,
    pub mobile: Mobile,
    pub consent_on: Option<Date>,
}

/// `loans.csv`: external_id,borrower_external_id,product_code,principal,annual_rate,term_months,
/// repayment_method,disbursed_on,vin,vehicle_model,vehicle_price,dealer
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanRow {
    pub external_id: String,
    pub borrower_external_id: String,
    pub product_code: String,
    pub principal: Money,
    pub annual_rate: Rate,
    pub term_months: u32,
    pub method: Method,
    pub disbursed_on: Date,
    pub vin: Vin,
    pub vehicle_model: String,
    pub vehicle_price: Money,
    pub dealer: String,
}

/// `payments.csv`: external_id,loan_external_id,paid_on,amount,channel
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    pub external_id: String,
    pub loan_external_id: String,
    pub paid_on: Date,
    pub amount: Money,
    pub channel: String,
}

/// A problem with one field of one row of an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line (CSV) or row (Excel) number in the file, the header being line 1.
    pub line: usize,
    /// The column name, or empty when the whole row is at fault.
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column.is_empty() {
            write!(f, "line {}: {}", self.line, self.reason)
        } else {
            write!(
                f,
                "line {}, column {}: {}",
                self.line, self.column, self.reason
            )
        }
    }
}
