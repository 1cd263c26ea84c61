//! A deterministic generator of a realistic synthetic car-loan portfolio, for `huifang demo` and
//! for the benchmarks (up to a million loans and more).
//!
//! # Shape
//! [`Portfolio::loans`] streams one [`SynthLoan`] at a time (its borrower when new, the loan, its
//! payments); [`Portfolio::chunks`] groups them into [`PortfolioChunk`]s so a caller imports, say,
//! 10 000 loans at a time and never holds the whole portfolio. Generation is linear in the number
//! of loans and keeps only a few bytes of state between loans.
//!
//! # Determinism
//! Every loan draws from its own ChaCha generator ([`StdRng`]) keyed by the seed and the loan's
//! index, so the same [`SynthConfig`] always yields the same rows, whatever the chunk size. The
//! only state carried from one loan to the next is the borrower count and the previous borrower
//! (a repeat customer's second loan refers to it).
//!
//! # What the rows look like
//! - Borrowers `B00000001`…: a common Chinese surname and a one- or two-character given name
//!   matching the sex encoded in the ID number; a resident ID number from a real district code of a
//!   big city, a birth date making the borrower 22–60 at disbursement (of the first loan) and a
//!   valid check character; a mobile number (13x–19x); an employer; a monthly income of 4 000 to
//!   60 000 yuan in whole hundreds, at least twice the first installment; the city of the district.
//!   About 2% of loans are a second loan of the previous loan's borrower, disbursed later.
//!   ID numbers are unique for up to 4 000 000 borrowers, mobiles for up to 100 000 000.
//! - Loans `L00000001`…: product (weights by product), vehicle from a list of common models with a
//!   price of 50 000–400 000 yuan (used cars priced 40–80% of new), principal 50–80% of the price
//!   rounded down to 100 yuan, annual rate in 0.0001 steps and term by product (see
//!   [`default_products`]), a VIN with a real Chinese WMI of the make, a model-year code and a valid
//!   check digit (unique for up to 33 000 000 loans), and a dealer of the borrower's city.
//!   Disbursements spread from [`SynthConfig::disbursed_from`] to the business date, the density
//!   rising linearly (the most recent month has about twice the average volume).
//! - Payments `P00000001-001`…, value-dated within `[disbursed_on, business_date]`, following the
//!   loan's [`Behaviour`], drawn with these fixed probabilities:
//!
//! | behaviour | share | payments |
//! |---|---|---|
//! | [`Behaviour::OnTime`] | 70% | each installment's payment, on a day from due − 5 to due |
//! | [`Behaviour::LateWithinGrace`] | 12% | a third of the installments 1–3 days late, never past the product's grace days |
//! | [`Behaviour::ChronicallyLate`] | 8% | every installment 5–25 days late with its penalty; one in four is skipped and paid with the next |
//! | [`Behaviour::Defaulter`] | 4% | on time until a random installment, then nothing; half of them pay the two before it 5–20 days late |
//! | [`Behaviour::EarlyPayoff`] | 3% | on time until a random point, then the settlement amount (see [`EarlySettlement`]) |
//! | [`Behaviour::PartialPayer`] | 3% | 40% of the installments 50–90% paid; the rest, with its penalty, paid with the next |
//!
//!   Late amounts include the penalty interest the engine charges (overdue principal × rate ×
//!   (1 + markup) / 360 per day from the due date, waived within the grace days), so late payers
//!   cure what they catch up on. Channels: withholding (代扣) for most, bank transfer, WeChat Pay,
//!   Alipay or cash for the rest, manual channels being likelier for late payments.
//! - About 1% of the payments value-dated in the 30 days before the business date are
//!   [`LatePayment`]s: they arrive 1–10 days after their value date (never after the business
//!   date) and are kept out of the main payment list, so the demo can post them backdated.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, Months};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use huifang_core::calendar::{add_days, days_between};
use huifang_core::ids::{IdError, Mobile, ResidentId, Vin};
use huifang_core::policy::{PenaltyRate, ProductRules};
use huifang_core::schedule::{self, Installment, Method, ScheduleError, ScheduleTerms};
use huifang_core::{Date, Money, Rate};

use crate::rows::{BorrowerRow, LoanRow, PaymentRow, ProductRow};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthConfig {
    /// Seed of every random draw: the same configuration always yields the same portfolio.
    pub seed: u64,
    /// How many loans.
    pub loans: usize,
    /// No payment is dated after this day, and no loan is disbursed after it.
    pub business_date: Date,
    /// The earliest disbursement date.
    pub disbursed_from: Date,
    /// The products loans are drawn from. The codes of [`default_products`] get their own terms,
    /// rates, methods and vehicles; any other code gets the generic new-car terms (12–60 months,
    /// 0.0299–0.1299, mostly annuity).
    pub products: Vec<ProductRow>,
}

/// The seed [`SynthConfig::demo`] uses.
pub const DEMO_SEED: u64 = 20_260_101;

impl SynthConfig {
    /// The demo configuration: [`DEMO_SEED`], the [`default_products`], disbursements over the
    /// three years before `business_date`.
    pub fn demo(business_date: Date, loans: usize) -> SynthConfig {
        let disbursed_from = business_date
            .checked_sub_months(Months::new(36))
            .unwrap_or(business_date);
        SynthConfig {
            seed: DEMO_SEED,
            loans,
            business_date,
            disbursed_from,
            products: default_products(),
        }
    }

    /// Checks that the configuration can generate a portfolio.
    pub fn validate(&self) -> Result<(), SynthError> {
        if self.products.is_empty() {
            return Err(SynthError::NoProducts);
        }
        if self.disbursed_from > self.business_date {
            return Err(SynthError::DateRange {
                from: self.disbursed_from,
                to: self.business_date,
            });
        }
        // Birth dates go back 61 years and must stay in 1900–9999 for a valid ID number.
        if self.disbursed_from.year() < 1961 || self.business_date.year() > 9000 {
            return Err(SynthError::DateRange {
                from: self.disbursed_from,
                to: self.business_date,
            });
        }
        Ok(())
    }
}

/// The default products: 新车贷, 二手车贷, 新能源车贷 and 融资租赁.
///
/// | code | name | grace | markup | terms (months) | rate | methods | weight |
/// |---|---|---|---|---|---|---|---|
/// | NEWCAR36 | 新车贷 | 3 | 0.5 | 12/24/36 | 0.0399–0.0899 | 85% annuity, 15% equal principal | 45% |
/// | USED24 | 二手车贷 | 3 | 0.5 | 12/24 | 0.0699–0.1299 | 80% annuity, 20% equal principal | 25% |
/// | NEV60 | 新能源车贷 | 5 | 0.5 | 24/36/48/60 | 0.0299–0.0799 | 85% annuity, 15% equal principal | 20% |
/// | LEASE36 | 融资租赁 | 0 | 0.3 | 12/24/36 | 0.0499–0.0999 | flat | 10% |
pub fn default_products() -> Vec<ProductRow> {
    PROFILES
        .iter()
        .map(|p| ProductRow {
            code: p.code.to_string(),
            name: p.name.to_string(),
            grace_days: p.grace_days,
            penalty_rate_markup: Rate::from_decimal(Decimal::new(p.markup_tenths, 1)),
        })
        .collect()
}

/// Why a portfolio cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SynthError {
    /// [`SynthConfig::products`] is empty.
    #[error("the configuration has no products")]
    NoProducts,
    /// The disbursement range is backwards, or outside 1961–9000.
    #[error("disbursements from {from} to {to} are not a usable date range")]
    DateRange { from: Date, to: Date },
    /// A generated identifier did not validate (a bug in the generator).
    #[error("generated {what} {value:?} is invalid: {source}")]
    Identifier {
        what: &'static str,
        value: String,
        source: IdError,
    },
    /// Generated terms did not make a schedule (a bug in the generator).
    #[error("loan {loan}: {source}")]
    Schedule { loan: String, source: ScheduleError },
    /// A built-in table the generator draws from is empty (a bug in the generator).
    #[error("the generator's {0} table is empty")]
    EmptyTable(&'static str),
}

/// How a loan's borrower repays; see the module documentation for the shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// Always pays each installment on a day from due − 5 to the due date.
    OnTime,
    /// Sometimes 1–3 days late, always within the product's grace days.
    LateWithinGrace,
    /// Pays 5–25 days late with penalty, sometimes two installments at once.
    ChronicallyLate,
    /// Stops paying at a random installment and never pays again.
    Defaulter,
    /// Settles the loan early at a random point.
    EarlyPayoff,
    /// Sometimes pays only 50–90% and catches up with the next installment.
    PartialPayer,
}

impl Behaviour {
    /// Every behaviour, in the order of the documentation table.
    pub const ALL: [Behaviour; 6] = [
        Self::OnTime,
        Self::LateWithinGrace,
        Self::ChronicallyLate,
        Self::Defaulter,
        Self::EarlyPayoff,
        Self::PartialPayer,
    ];

    /// The share of loans drawn with this behaviour, per mille (they sum to 1000).
    pub const fn share_per_mille(self) -> u32 {
        match self {
            Self::OnTime => 700,
            Self::LateWithinGrace => 120,
            Self::ChronicallyLate => 80,
            Self::Defaulter => 40,
            Self::EarlyPayoff => 30,
            Self::PartialPayer => 30,
        }
    }

    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnTime => "on_time",
            Self::LateWithinGrace => "late_within_grace",
            Self::ChronicallyLate => "chronically_late",
            Self::Defaulter => "defaulter",
            Self::EarlyPayoff => "early_payoff",
            Self::PartialPayer => "partial_payer",
        }
    }

    fn draw(rng: &mut StdRng) -> Behaviour {
        let mut roll = rng.gen_range(0..1000u32);
        for behaviour in Self::ALL {
            if roll < behaviour.share_per_mille() {
                return behaviour;
            }
            roll -= behaviour.share_per_mille();
        }
        Self::OnTime
    }
}

/// A payment that reaches the lender after its value date: import it on `arrives_on`, after the
/// days between have been closed, and the engine re-processes the loan from `row.paid_on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatePayment {
    /// The day the payment is posted, 1–10 days after its value date, never after the business
    /// date.
    pub arrives_on: Date,
    /// The payment, value-dated `row.paid_on`.
    pub row: PaymentRow,
}

/// An early settlement: record `LoanOp::EarlySettlement` on `on` and the loan's settlement payment
/// of that day pays it off exactly (it is the current installment's payment plus all later
/// principal). Without the operation the engine runs the surplus over later installments oldest
/// first, leaving the later interest owed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlySettlement {
    /// The settled loan.
    pub loan_external_id: String,
    /// The settlement date, also the value date of the settlement payment.
    pub on: Date,
}

/// One generated loan with everything that belongs to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthLoan {
    /// The borrower, when this is their first loan (`None` for a repeat customer, whose row came
    /// with the previous loan).
    pub borrower: Option<BorrowerRow>,
    /// The loan.
    pub loan: LoanRow,
    /// How its borrower repays.
    pub behaviour: Behaviour,
    /// Payments known on their value date, in date order.
    pub payments: Vec<PaymentRow>,
    /// Payments that arrive after their value date.
    pub late_payments: Vec<LatePayment>,
    /// The early settlement date of an [`Behaviour::EarlyPayoff`] loan that settled by the
    /// business date.
    pub early_settlement: Option<Date>,
}

/// A batch of loans with their borrowers and payments, ready to import in this order: borrowers,
/// loans, payments (late payments and early settlements as the caller's story requires).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortfolioChunk {
    /// Borrowers whose first loan is in this chunk.
    pub borrowers: Vec<BorrowerRow>,
    /// The loans, in order of their external ids.
    pub loans: Vec<LoanRow>,
    /// The behaviour of each loan, parallel to `loans`.
    pub behaviours: Vec<Behaviour>,
    /// Payments known on their value date, by loan then date.
    pub payments: Vec<PaymentRow>,
    /// Payments that arrive after their value date (post each on its `arrives_on`).
    pub late_payments: Vec<LatePayment>,
    /// Early settlements to record as `LoanOp::EarlySettlement` before their payment.
    pub early_settlements: Vec<EarlySettlement>,
}

impl PortfolioChunk {
    /// Adds one loan and what belongs to it.
    pub fn push(&mut self, loan: SynthLoan) {
        if let Some(borrower) = loan.borrower {
            self.borrowers.push(borrower);
        }
        if let Some(on) = loan.early_settlement {
            self.early_settlements.push(EarlySettlement {
                loan_external_id: loan.loan.external_id.clone(),
                on,
            });
        }
        self.loans.push(loan.loan);
        self.behaviours.push(loan.behaviour);
        self.payments.extend(loan.payments);
        self.late_payments.extend(loan.late_payments);
    }

    /// Appends a later chunk to this one.
    pub fn append(&mut self, mut other: PortfolioChunk) {
        self.borrowers.append(&mut other.borrowers);
        self.loans.append(&mut other.loans);
        self.behaviours.append(&mut other.behaviours);
        self.payments.append(&mut other.payments);
        self.late_payments.append(&mut other.late_payments);
        self.early_settlements.append(&mut other.early_settlements);
    }

    /// Groups the chunk by the business day on which each row reaches the lender: a loan (with
    /// its borrower, the first time the borrower appears) on its disbursement date, a payment on
    /// its value date, a [`LatePayment`] on the day it arrives, an early settlement on its date.
    /// Anything dated before `first_day` arrives on `first_day` (the history loaded at once).
    pub fn by_arrival_day(&self, first_day: Date) -> BTreeMap<Date, Arrivals> {
        let day_of = |d: Date| d.max(first_day);
        let borrowers: HashMap<&str, &BorrowerRow> = self
            .borrowers
            .iter()
            .map(|b| (b.external_id.as_str(), b))
            .collect();
        let mut seen = HashSet::new();
        let mut days: BTreeMap<Date, Arrivals> = BTreeMap::new();
        for loan in &self.loans {
            let day = days.entry(day_of(loan.disbursed_on)).or_default();
            if seen.insert(loan.borrower_external_id.as_str())
                && let Some(b) = borrowers.get(loan.borrower_external_id.as_str())
            {
                day.borrowers.push((*b).clone());
            }
            day.loans.push(loan.clone());
        }
        for p in &self.payments {
            days.entry(day_of(p.paid_on))
                .or_default()
                .payments
                .push(p.clone());
        }
        for late in &self.late_payments {
            days.entry(day_of(late.arrives_on))
                .or_default()
                .payments
                .push(late.row.clone());
        }
        for s in &self.early_settlements {
            days.entry(day_of(s.on))
                .or_default()
                .early_settlements
                .push(s.clone());
        }
        days
    }

    /// Whether the chunk holds no loan.
    pub fn is_empty(&self) -> bool {
        self.loans.is_empty()
    }
}

/// What reaches the lender on one business day (see [`PortfolioChunk::by_arrival_day`]), in the
/// order to import it: borrowers, loans, payments, then the early settlements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrivals {
    pub borrowers: Vec<BorrowerRow>,
    pub loans: Vec<LoanRow>,
    pub payments: Vec<PaymentRow>,
    pub early_settlements: Vec<EarlySettlement>,
}

/// A synthetic portfolio: a validated configuration that generates its loans on demand.
#[derive(Debug, Clone)]
pub struct Portfolio {
    config: SynthConfig,
    /// The lending profile of each configured product (parallel to `config.products`).
    profiles: Vec<&'static LendingProfile>,
    total_weight: u32,
}

impl Portfolio {
    /// Validates `config`.
    pub fn new(config: SynthConfig) -> Result<Portfolio, SynthError> {
        config.validate()?;
        let profiles: Vec<&'static LendingProfile> = config
            .products
            .iter()
            .map(|p| {
                PROFILES
                    .iter()
                    .find(|k| k.code == p.code)
                    .unwrap_or(&GENERIC)
            })
            .collect();
        let total_weight = profiles.iter().map(|p| p.weight).sum();
        Ok(Portfolio {
            config,
            profiles,
            total_weight,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SynthConfig {
        &self.config
    }

    /// Streams the loans one by one.
    pub fn loans(&self) -> SynthLoans<'_> {
        SynthLoans {
            portfolio: self,
            next: 0,
            borrowers: 0,
            previous: None,
            failed: false,
        }
    }

    /// Streams the loans in chunks of `chunk_size` loans (at least 1); the concatenation of the
    /// chunks equals [`Portfolio::generate`].
    pub fn chunks(&self, chunk_size: usize) -> PortfolioChunks<'_> {
        PortfolioChunks {
            loans: self.loans(),
            chunk_size: chunk_size.max(1),
        }
    }

    /// The whole portfolio at once (mind the memory for large portfolios: prefer
    /// [`Portfolio::chunks`]).
    pub fn generate(&self) -> Result<PortfolioChunk, SynthError> {
        let mut all = PortfolioChunk::default();
        for loan in self.loans() {
            all.push(loan?);
        }
        Ok(all)
    }

    fn loan(&self, index: usize, state: &mut Carry) -> Result<SynthLoan, SynthError> {
        let cfg = &self.config;
        let mut rng = loan_rng(cfg.seed, index);
        let number = index + 1;

        let repeat = match &state.previous {
            Some(prev) if !prev.repeat && rng.gen_range(0..1000u32) < REPEAT_PER_MILLE => {
                Some(prev.clone())
            }
            _ => None,
        };
        let disbursed_on = match &repeat {
            Some(prev) => uniform_date(
                &mut rng,
                prev.disbursed_on.max(cfg.disbursed_from),
                cfg.business_date,
            ),
            None => recent_weighted_date(&mut rng, cfg.disbursed_from, cfg.business_date),
        };
        let city = match &repeat {
            Some(prev) => prev.city,
            None => pick_weighted(&mut rng, CITIES, |c| c.weight, CITIES_WEIGHT),
        };
        let city_name = CITIES.get(city).map_or("北京市", |c| c.name);

        // Product and its terms.
        let (product, profile) = self.pick_product(&mut rng)?;
        let behaviour = Behaviour::draw(&mut rng);
        let vehicles: &[VehicleModel] = if profile.nev_only {
            NEV_VEHICLES
        } else {
            VEHICLES
        };
        let vehicle = pick_weighted_item(
            &mut rng,
            vehicles,
            |v| v.weight,
            if profile.nev_only {
                NEV_WEIGHT
            } else {
                VEHICLES_WEIGHT
            },
        )
        .ok_or(SynthError::EmptyTable("vehicle"))?;
        let price_pct = if profile.used {
            rng.gen_range(40..=80u32)
        } else {
            rng.gen_range(92..=108u32)
        };
        let price_yuan =
            (vehicle.price_yuan * price_pct / 100).clamp(MIN_PRICE_YUAN, MAX_PRICE_YUAN) / 100
                * 100;
        let vehicle_price = Money::from_fen(i64::from(price_yuan) * 100);
        let principal_hundreds = price_yuan * rng.gen_range(50..=80u32) / 100 / 100;
        let principal = Money::from_fen(i64::from(principal_hundreds) * 10_000);
        let rate_bp = rng.gen_range(profile.rate_bp.0..=profile.rate_bp.1);
        let annual_rate = Rate::from_decimal(Decimal::new(i64::from(rate_bp), 4));
        let terms_weight = profile.terms.iter().map(|t| t.1).sum();
        let (term_months, _) = *pick_weighted_item(&mut rng, profile.terms, |t| t.1, terms_weight)
            .ok_or(SynthError::EmptyTable("term"))?;
        let method = if profile.flat {
            Method::Flat
        } else if rng.gen_range(0..100u32) < profile.equal_principal_pct {
            Method::EqualPrincipal
        } else {
            Method::Annuity
        };
        let loan_id = format!("L{number:08}");
        let installments = schedule::build(&ScheduleTerms {
            principal,
            annual_rate,
            term_months,
            method,
            start: disbursed_on,
        })
        .map_err(|source| SynthError::Schedule {
            loan: loan_id.clone(),
            source,
        })?;

        // Vehicle identification.
        let model_year = if profile.used {
            disbursed_on.year() - rng.gen_range(1..=6)
        } else if disbursed_on.month() >= 9 && rng.gen_range(0..3u32) == 0 {
            disbursed_on.year() + 1
        } else {
            disbursed_on.year()
        };
        let vin = make_vin(&mut rng, vehicle, model_year, index, cfg.seed)?;
        let dealer = make_dealer(&mut rng, city_name, vehicle, profile.used);

        // Borrower.
        let (borrower, borrower_id) = match repeat {
            Some(prev) => (None, prev.external_id),
            None => {
                let first_payment = installments.first().map_or(Money::ZERO, |i| i.payment);
                let row =
                    make_borrower(&mut rng, state.borrowers, city, disbursed_on, first_payment)?;
                state.borrowers += 1;
                let id = row.external_id.clone();
                (Some(row), id)
            }
        };
        state.previous = Some(Previous {
            external_id: borrower_id.clone(),
            city,
            disbursed_on,
            repeat: borrower.is_none(),
        });

        // Payments.
        let rules = ProductRules {
            grace_days: product.grace_days,
            penalty_rate_markup: product.penalty_rate_markup,
        };
        let mut sim = Simulation {
            rng: &mut rng,
            installments: &installments,
            business_date: cfg.business_date,
            grace_days: product.grace_days,
            penalty_rate: rules.penalty_rate(annual_rate),
            payments: Vec::new(),
        };
        let early_settlement = sim.run(behaviour);
        let Simulation {
            payments: planned, ..
        } = sim;
        let (payments, late_payments) =
            payment_rows(&mut rng, &planned, number, &loan_id, cfg.business_date);

        let loan = LoanRow {
            external_id: loan_id,
            borrower_external_id: borrower_id,
            product_code: product.code.clone(),
            principal,
            annual_rate,
            term_months,
            method,
            disbursed_on,
            vin,
            vehicle_model: format!("{} {}", vehicle.brand, vehicle.model),
            vehicle_price,
            dealer,
        };
        Ok(SynthLoan {
            borrower,
            loan,
            behaviour,
            payments,
            late_payments,
            early_settlement,
        })
    }

    fn pick_product(
        &self,
        rng: &mut StdRng,
    ) -> Result<(&ProductRow, &'static LendingProfile), SynthError> {
        let mut roll = rng.gen_range(0..self.total_weight.max(1));
        let products = self
            .config
            .products
            .iter()
            .zip(self.profiles.iter().copied());
        // The list is not empty (validated).
        let first = products.clone().next().ok_or(SynthError::NoProducts)?;
        for (product, profile) in products {
            if roll < profile.weight {
                return Ok((product, profile));
            }
            roll -= profile.weight;
        }
        // Unreachable: the rolls fall within the total weight.
        Ok(first)
    }
}

/// The loans of a [`Portfolio`], one at a time. After an error it yields nothing more.
#[derive(Debug)]
pub struct SynthLoans<'a> {
    portfolio: &'a Portfolio,
    next: usize,
    borrowers: usize,
    previous: Option<Previous>,
    failed: bool,
}

impl Iterator for SynthLoans<'_> {
    type Item = Result<SynthLoan, SynthError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next >= self.portfolio.config.loans {
            return None;
        }
        let index = self.next;
        self.next += 1;
        let mut carry = Carry {
            borrowers: self.borrowers,
            previous: self.previous.take(),
        };
        let result = self.portfolio.loan(index, &mut carry);
        self.borrowers = carry.borrowers;
        self.previous = carry.previous;
        self.failed = result.is_err();
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = if self.failed {
            0
        } else {
            self.portfolio.config.loans.saturating_sub(self.next)
        };
        (left.min(1), Some(left))
    }
}

/// The loans of a [`Portfolio`] in chunks. After an error it yields nothing more.
#[derive(Debug)]
pub struct PortfolioChunks<'a> {
    loans: SynthLoans<'a>,
    chunk_size: usize,
}

impl Iterator for PortfolioChunks<'_> {
    type Item = Result<PortfolioChunk, SynthError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut chunk = PortfolioChunk::default();
        for loan in self.loans.by_ref().take(self.chunk_size) {
            match loan {
                Ok(loan) => chunk.push(loan),
                Err(error) => return Some(Err(error)),
            }
        }
        (!chunk.is_empty()).then_some(Ok(chunk))
    }
}

// ---------------------------------------------------------------------------------------------
// Generator state and randomness

/// The share of loans (after the first) that are the previous borrower's second loan, per mille.
const REPEAT_PER_MILLE: u32 = 20;

#[derive(Debug, Clone)]
struct Previous {
    external_id: String,
    city: usize,
    disbursed_on: Date,
    repeat: bool,
}

struct Carry {
    borrowers: usize,
    previous: Option<Previous>,
}

/// The generator of loan `index`: ChaCha keyed by the seed and the index.
fn loan_rng(seed: u64, index: usize) -> StdRng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&u64::try_from(index).unwrap_or(u64::MAX).to_le_bytes());
    key[16..].copy_from_slice(b"huifang-synth-v1");
    StdRng::from_seed(key)
}

/// The sum of the weights of a `(name, weight)` table.
const fn pairs_weight(items: &[(&str, u32)]) -> u32 {
    let mut total = 0;
    let mut rest = items;
    while let [(_, weight), tail @ ..] = rest {
        total += *weight;
        rest = tail;
    }
    total
}

/// Index of an item drawn with probability proportional to its weight (`total` is the sum).
fn pick_weighted<T>(
    rng: &mut StdRng,
    items: &[T],
    weight: impl Fn(&T) -> u32,
    total: u32,
) -> usize {
    let mut roll = rng.gen_range(0..total.max(1));
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if roll < w {
            return i;
        }
        roll -= w;
    }
    0
}

/// The item drawn by [`pick_weighted`]; `None` only for an empty table.
fn pick_weighted_item<'a, T>(
    rng: &mut StdRng,
    items: &'a [T],
    weight: impl Fn(&T) -> u32,
    total: u32,
) -> Option<&'a T> {
    items.get(pick_weighted(rng, items, weight, total))
}

/// The name drawn from a `(name, weight)` table (`total` is the sum of the weights); empty only
/// for an empty table, like [`pick`].
fn pick_pair<'a>(rng: &mut StdRng, items: &[(&'a str, u32)], total: u32) -> &'a str {
    pick_weighted_item(rng, items, |p| p.1, total).map_or("", |p| p.0)
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items
        .get(rng.gen_range(0..items.len().max(1)))
        .copied()
        .unwrap_or("")
}

/// A day in `[from, to]`, the density rising linearly towards `to` (the later of two uniform draws).
fn recent_weighted_date(rng: &mut StdRng, from: Date, to: Date) -> Date {
    let span = days_between(from, to).max(0);
    let a = rng.gen_range(0..=span);
    let b = rng.gen_range(0..=span);
    add_days(from, a.max(b))
}

/// A day in `[from, to]`, uniformly.
fn uniform_date(rng: &mut StdRng, from: Date, to: Date) -> Date {
    let span = days_between(from, to).max(0);
    add_days(from, rng.gen_range(0..=span))
}

// ---------------------------------------------------------------------------------------------
// Payments

/// A payment decided by the behaviour, before ids and channels.
#[derive(Debug, Clone, Copy)]
struct Planned {
    paid_on: Date,
    amount: Money,
    /// Paid after the due date of what it pays.
    late: bool,
}

struct Simulation<'a> {
    rng: &'a mut StdRng,
    installments: &'a [Installment],
    business_date: Date,
    grace_days: u32,
    penalty_rate: PenaltyRate,
    payments: Vec<Planned>,
}

impl Simulation<'_> {
    /// Plans the loan's payments up to the business date; returns the early settlement date.
    fn run(&mut self, behaviour: Behaviour) -> Option<Date> {
        let installments = self.installments;
        let n = installments.len();
        match behaviour {
            Behaviour::OnTime => {
                self.on_time(0, n);
                None
            }
            Behaviour::LateWithinGrace => {
                let max_late = i64::from(self.grace_days.min(3));
                for installment in installments {
                    let due = installment.due_date;
                    let date = if max_late > 0 && self.rng.gen_range(0..3u32) == 0 {
                        add_days(due, self.rng.gen_range(1..=max_late))
                    } else {
                        self.on_time_day(due)
                    };
                    if !self.pay(date, installment.payment, date > due) {
                        break;
                    }
                }
                None
            }
            Behaviour::ChronicallyLate => {
                let mut k = 0;
                while let Some(first) = installments.get(k) {
                    // Sometimes two installments at once.
                    let second = installments
                        .get(k + 1)
                        .filter(|_| self.rng.gen_range(0..4u32) == 0);
                    let last = second.unwrap_or(first);
                    let date = add_days(last.due_date, self.rng.gen_range(5..=25));
                    let amount: Money = std::iter::once(first)
                        .chain(second)
                        .map(|i| i.payment + self.penalty(i.principal, i.due_date, date))
                        .sum();
                    if !self.pay(date, amount, true) {
                        break;
                    }
                    k += if second.is_some() { 2 } else { 1 };
                }
                None
            }
            Behaviour::Defaulter => {
                let due_count = self
                    .installments
                    .iter()
                    .take_while(|i| i.due_date <= self.business_date)
                    .count();
                let stop = if due_count == 0 {
                    0
                } else {
                    self.rng.gen_range(0..due_count)
                };
                let deteriorates = self.rng.gen_range(0..2u32) == 0;
                for (k, installment) in installments.iter().enumerate().take(stop) {
                    let due = installment.due_date;
                    let (date, late) = if deteriorates && k + 2 >= stop {
                        (add_days(due, self.rng.gen_range(5..=20)), true)
                    } else {
                        (self.on_time_day(due), false)
                    };
                    let amount =
                        installment.payment + self.penalty(installment.principal, due, date);
                    if !self.pay(date, amount, late) {
                        break;
                    }
                }
                None
            }
            Behaviour::EarlyPayoff => {
                if n < 2 {
                    self.on_time(0, n);
                    return None;
                }
                let current = self.rng.gen_range(1..n);
                if !self.on_time(0, current) {
                    return None;
                }
                // 1 <= current < n.
                let (Some(previous), Some(settled)) =
                    (installments.get(current - 1), installments.get(current))
                else {
                    return None;
                };
                let previous_due = previous.due_date;
                let span = days_between(previous_due, settled.due_date) - 1;
                let on = add_days(previous_due, self.rng.gen_range(1..=span.max(1)));
                let later_principal: Money = installments
                    .iter()
                    .skip(current + 1)
                    .map(|i| i.principal)
                    .sum();
                let amount = settled.payment + later_principal;
                self.pay(on, amount, false).then_some(on)
            }
            Behaviour::PartialPayer => {
                // What is left of the previous installment: its due date, unpaid amount and unpaid
                // principal.
                let mut carry: Option<(Date, Money, Money)> = None;
                for (k, installment) in installments.iter().enumerate() {
                    let due = installment.due_date;
                    let date = self.on_time_day(due);
                    let payment = installment.payment;
                    let (amount, late) = match carry.take() {
                        Some((carried_due, left, principal_left)) => (
                            left + self.penalty(principal_left, carried_due, date) + payment,
                            true,
                        ),
                        None if k + 1 < n && self.rng.gen_range(0..10u32) < 4 => {
                            let part = Money::from_fen(
                                payment.fen() * i64::from(self.rng.gen_range(50..=90u32))
                                    / 100
                                    / 100
                                    * 100,
                            );
                            let interest_paid = installment.interest.min(part);
                            carry = Some((
                                due,
                                payment - part,
                                installment.principal - (part - interest_paid),
                            ));
                            (part, false)
                        }
                        None => (payment, false),
                    };
                    if !self.pay(date, amount, late) {
                        break;
                    }
                }
                None
            }
        }
    }

    /// Pays installments `from..to` on time; false once a payment falls after the business date.
    fn on_time(&mut self, from: usize, to: usize) -> bool {
        let installments = self.installments;
        for installment in installments.iter().take(to).skip(from) {
            let date = self.on_time_day(installment.due_date);
            if !self.pay(date, installment.payment, false) {
                return false;
            }
        }
        true
    }

    /// A day from due − 5 to the due date, the due date itself for half of the payments (the
    /// withholding run).
    fn on_time_day(&mut self, due: Date) -> Date {
        if self.rng.gen_range(0..2u32) == 0 {
            due
        } else {
            add_days(due, -self.rng.gen_range(1..=5))
        }
    }

    /// The penalty the engine charges on `principal_left` overdue since `due`, paid on `paid_on`.
    fn penalty(&self, principal_left: Money, due: Date, paid_on: Date) -> Money {
        let days = days_between(due, paid_on);
        if days <= i64::from(self.grace_days) || !principal_left.is_positive() {
            return Money::ZERO;
        }
        self.penalty_rate.on(principal_left, days)
    }

    /// Records a payment unless it falls after the business date (then returns false: the
    /// payments are planned in date order, so nothing later is paid either).
    fn pay(&mut self, paid_on: Date, amount: Money, late: bool) -> bool {
        if paid_on > self.business_date {
            return false;
        }
        if amount.is_positive() {
            self.payments.push(Planned {
                paid_on,
                amount,
                late,
            });
        }
        true
    }
}

/// The share of payments in the last 30 days that arrive late, per mille.
const LATE_ARRIVAL_PER_MILLE: u32 = 10;

/// Turns planned payments into rows, setting aside the ones that arrive after their value date.
fn payment_rows(
    rng: &mut StdRng,
    planned: &[Planned],
    number: usize,
    loan_id: &str,
    business_date: Date,
) -> (Vec<PaymentRow>, Vec<LatePayment>) {
    let mut payments = Vec::with_capacity(planned.len());
    let mut late_payments = Vec::new();
    let preferred = if rng.gen_range(0..100u32) < 80 {
        "withholding"
    } else {
        pick(
            rng,
            &[
                "bank_transfer",
                "wechat_pay",
                "alipay",
                "bank_transfer",
                "cash",
            ],
        )
    };
    for (seq, p) in planned.iter().enumerate() {
        let manual = (p.late && rng.gen_range(0..100u32) < 60) || rng.gen_range(0..100u32) < 5;
        let channel = if manual {
            pick_pair(rng, MANUAL_CHANNELS, MANUAL_CHANNELS_WEIGHT)
        } else {
            preferred
        };
        let row = PaymentRow {
            external_id: format!("P{number:08}-{:03}", seq + 1),
            loan_external_id: loan_id.to_string(),
            paid_on: p.paid_on,
            amount: p.amount,
            channel: channel.to_string(),
        };
        let days_before = days_between(p.paid_on, business_date);
        if (1..=30).contains(&days_before) && rng.gen_range(0..1000u32) < LATE_ARRIVAL_PER_MILLE {
            let arrives_on = add_days(p.paid_on, rng.gen_range(1..=days_before.min(10)));
            late_payments.push(LatePayment { arrives_on, row });
        } else {
            payments.push(row);
        }
    }
    (payments, late_payments)
}

/// Channels other than withholding, with weights.
const MANUAL_CHANNELS: &[(&str, u32)] = &[
    ("bank_transfer", 40),
    ("wechat_pay", 25),
    ("alipay", 25),
    ("cash", 10),
];
const MANUAL_CHANNELS_WEIGHT: u32 = pairs_weight(MANUAL_CHANNELS);

// ---------------------------------------------------------------------------------------------
// Borrowers

/// Builds borrower number `b` (0-based, in order of first loan).
fn make_borrower(
    rng: &mut StdRng,
    b: usize,
    city: usize,
    disbursed_on: Date,
    first_payment: Money,
) -> Result<BorrowerRow, SynthError> {
    let city_entry = CITIES
        .get(city)
        .or(CITIES.first())
        .ok_or(SynthError::EmptyTable("city"))?;
    let region_index = rng.gen_range(0..city_entry.districts.len());
    let region = city_entry
        .districts
        .get(region_index)
        .ok_or(SynthError::EmptyTable("district"))?;
    let b64 = u64::try_from(b).unwrap_or(u64::MAX);

    // The sequence scrambles b mod 1000 (a bijection); its parity is the sex (odd: male).
    let sequence = ((b64 % 1000) * 337 + 211) % 1000;
    let male = sequence % 2 == 1;
    let birth = birth_date(rng, disbursed_on, b64 / 1000, city * 8 + region_index);
    let mut first17 = format!(
        "{region}{:04}{:02}{:02}{sequence:03}",
        birth.year(),
        birth.month(),
        birth.day()
    );
    let check = ResidentId::check_character(&first17);
    first17.push(check);
    let id_number = ResidentId::parse(&first17).map_err(|source| SynthError::Identifier {
        what: "resident ID number",
        value: first17.clone(),
        source,
    })?;

    // The last 8 digits scramble b mod 10^8 (a bijection), so mobiles are unique.
    let suffix = ((b64 % 100_000_000) * 7_919_113 + 52_706_183) % 100_000_000;
    let mobile_text = format!("{}{suffix:08}", pick(rng, MOBILE_PREFIXES));
    let mobile = Mobile::parse(&mobile_text).map_err(|source| SynthError::Identifier {
        what: "mobile",
        value: mobile_text.clone(),
        source,
    })?;

    let surname = pick_pair(rng, SURNAMES, SURNAMES_WEIGHT);
    let given = match (male, rng.gen_range(0..10u32) < 3) {
        (true, true) => pick(rng, MALE_SINGLE),
        (true, false) => pick(rng, MALE_DOUBLE),
        (false, true) => pick(rng, FEMALE_SINGLE),
        (false, false) => pick(rng, FEMALE_DOUBLE),
    };
    let name = format!("{surname}{given}");

    let employer = make_employer(rng, city_entry.name);

    // Income: 4 000–60 000 yuan in hundreds, skewed low (the least of four draws), at least
    // twice the first installment.
    let drawn = (0..4)
        .map(|_| rng.gen_range(40..=600u32))
        .min()
        .unwrap_or(40);
    let needed = u32::try_from((first_payment.fen() * 2 + 9_999) / 10_000).unwrap_or(600);
    let hundreds = drawn.max(needed).min(600);
    let monthly_income = Money::from_fen(i64::from(hundreds) * 10_000);

    Ok(BorrowerRow {
        external_id: format!("B{:08}", b + 1),
        name,
        id_number,
        mobile,
        employer,
        monthly_income,
        city: city_entry.name.to_string(),
        contacts: Default::default(),
    })
}

/// Days in the birth-date residue cycle: borrowers `q` thousands apart get birth dates in
/// different residues, which with the sequence number makes ID numbers unique.
const BIRTH_CYCLE_DAYS: i64 = 4000;

/// A birth date making the borrower 22–60 years old on `on`, whose day number is congruent to
/// `q + region_salt` modulo [`BIRTH_CYCLE_DAYS`].
fn birth_date(rng: &mut StdRng, on: Date, q: u64, region_salt: usize) -> Date {
    let earliest = on
        .checked_sub_months(Months::new(61 * 12))
        .map_or(on, |d| add_days(d, 1));
    let latest = on.checked_sub_months(Months::new(22 * 12)).unwrap_or(on);
    let salt = i64::try_from(region_salt).unwrap_or(0) * 389;
    let target = (i64::try_from(q).unwrap_or(0) + salt).rem_euclid(BIRTH_CYCLE_DAYS);
    let base = i64::from(earliest.num_days_from_ce());
    let first = add_days(earliest, (target - base).rem_euclid(BIRTH_CYCLE_DAYS));
    let count = days_between(first, latest).max(0) / BIRTH_CYCLE_DAYS + 1;
    add_days(first, rng.gen_range(0..count) * BIRTH_CYCLE_DAYS)
}

fn make_employer(rng: &mut StdRng, city: &str) -> String {
    match rng.gen_range(0..100u32) {
        0..12 => "个体经营".to_string(),
        12..15 => "自由职业".to_string(),
        15..25 => format!("{city}{}", pick(rng, PUBLIC_EMPLOYERS)),
        25..35 => pick(rng, LARGE_EMPLOYERS).to_string(),
        _ => {
            let short = city.strip_suffix('市').unwrap_or(city);
            format!(
                "{short}{}{}有限公司",
                pick(rng, TRADE_NAMES),
                pick(rng, INDUSTRIES)
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Vehicles and dealers

/// Characters allowed in a VIN, digits first.
const VIN_CHARS: &[u8; 33] = b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ";

/// The model-year code (position 10) for `year`, on the 30-year cycle from 1980 = A.
fn year_code(year: i32) -> u8 {
    const CODES: &[u8; 30] = b"ABCDEFGHJKLMNPRSTVWXY123456789";
    let index = usize::try_from((year - 1980).rem_euclid(30)).unwrap_or(0);
    CODES.get(index).copied().unwrap_or(b'A')
}

/// The VIN character at `index` (taken modulo the 33 of them).
fn vin_char(index: usize) -> char {
    char::from(
        VIN_CHARS
            .get(index % VIN_CHARS.len())
            .copied()
            .unwrap_or(b'0'),
    )
}

fn make_vin(
    rng: &mut StdRng,
    vehicle: &VehicleModel,
    model_year: i32,
    index: usize,
    seed: u64,
) -> Result<Vin, SynthError> {
    let wmi = pick(rng, vehicle.wmis);
    let index64 = u64::try_from(index).unwrap_or(u64::MAX);
    // The serial is a bijection of index mod 10^6 and position 8 holds index / 10^6, so VINs are
    // unique for up to 33 million loans whatever the other characters.
    let serial = ((index64 % 1_000_000) * 738_317 + seed % 1_000_000) % 1_000_000;
    let block = vin_char(usize::try_from(index64 / 1_000_000).unwrap_or(0));
    let mut draft = String::with_capacity(17);
    draft.push_str(wmi);
    for _ in 0..4 {
        draft.push(vin_char(rng.gen_range(10..VIN_CHARS.len())));
    }
    draft.push(block);
    draft.push('0');
    draft.push(char::from(year_code(model_year)));
    draft.push(vin_char(rng.gen_range(0..VIN_CHARS.len())));
    draft.push_str(&format!("{serial:06}"));
    Vin::with_check_digit(&draft).ok_or(SynthError::Identifier {
        what: "VIN",
        value: draft,
        source: IdError::Character('?'),
    })
}

fn make_dealer(rng: &mut StdRng, city: &str, vehicle: &VehicleModel, used: bool) -> String {
    let group = pick(rng, DEALER_GROUPS);
    if used {
        format!("{city}{group}二手车交易市场有限公司")
    } else {
        format!("{city}{group}{}汽车销售服务有限公司", vehicle.dealer_brand)
    }
}

// ---------------------------------------------------------------------------------------------
// Tables

#[derive(Debug)]
struct LendingProfile {
    code: &'static str,
    name: &'static str,
    grace_days: u32,
    markup_tenths: i64,
    /// Relative share of loans.
    weight: u32,
    /// (months, weight)
    terms: &'static [(u32, u32)],
    /// Annual rate range in basis points of 0.01%.
    rate_bp: (u32, u32),
    equal_principal_pct: u32,
    flat: bool,
    used: bool,
    nev_only: bool,
}

const PROFILES: &[LendingProfile] = &[
    LendingProfile {
        code: "NEWCAR36",
        name: "新车贷",
        grace_days: 3,
        markup_tenths: 5,
        weight: 45,
        terms: &[(12, 15), (24, 30), (36, 55)],
        rate_bp: (399, 899),
        equal_principal_pct: 15,
        flat: false,
        used: false,
        nev_only: false,
    },
    LendingProfile {
        code: "USED24",
        name: "二手车贷",
        grace_days: 3,
        markup_tenths: 5,
        weight: 25,
        terms: &[(12, 35), (24, 65)],
        rate_bp: (699, 1299),
        equal_principal_pct: 20,
        flat: false,
        used: true,
        nev_only: false,
    },
    LendingProfile {
        code: "NEV60",
        name: "新能源车贷",
        grace_days: 5,
        markup_tenths: 5,
        weight: 20,
        terms: &[(24, 15), (36, 35), (48, 25), (60, 25)],
        rate_bp: (299, 799),
        equal_principal_pct: 15,
        flat: false,
        used: false,
        nev_only: true,
    },
    LendingProfile {
        code: "LEASE36",
        name: "融资租赁",
        grace_days: 0,
        markup_tenths: 3,
        weight: 10,
        terms: &[(12, 20), (24, 30), (36, 50)],
        rate_bp: (499, 999),
        equal_principal_pct: 0,
        flat: true,
        used: false,
        nev_only: false,
    },
];

const GENERIC: LendingProfile = LendingProfile {
    code: "",
    name: "车贷",
    grace_days: 3,
    markup_tenths: 5,
    weight: 20,
    terms: &[(12, 15), (24, 25), (36, 35), (48, 10), (60, 15)],
    rate_bp: (299, 1299),
    equal_principal_pct: 15,
    flat: false,
    used: false,
    nev_only: false,
};

const MIN_PRICE_YUAN: u32 = 50_000;
const MAX_PRICE_YUAN: u32 = 400_000;

struct VehicleModel {
    brand: &'static str,
    model: &'static str,
    /// Typical new price in yuan.
    price_yuan: u32,
    /// World manufacturer identifiers of the makers that build it in China.
    wmis: &'static [&'static str],
    /// The brand as a dealer names itself.
    dealer_brand: &'static str,
    weight: u32,
}

const fn v(
    brand: &'static str,
    model: &'static str,
    price_yuan: u32,
    wmis: &'static [&'static str],
    dealer_brand: &'static str,
    weight: u32,
) -> VehicleModel {
    VehicleModel {
        brand,
        model,
        price_yuan,
        wmis,
        dealer_brand,
        weight,
    }
}

const NEV_VEHICLES: &[VehicleModel] = &[
    v(
        "比亚迪",
        "秦PLUS DM-i",
        100_000,
        &["LGX", "LC0"],
        "比亚迪",
        12,
    ),
    v(
        "比亚迪",
        "宋PLUS DM-i",
        160_000,
        &["LGX", "LC0"],
        "比亚迪",
        10,
    ),
    v("比亚迪", "海豚", 110_000, &["LGX", "LC0"], "比亚迪", 8),
    v("比亚迪", "汉EV", 220_000, &["LGX", "LC0"], "比亚迪", 5),
    v("特斯拉", "Model 3", 240_000, &["LRW"], "特斯拉", 6),
    v("特斯拉", "Model Y", 260_000, &["LRW"], "特斯拉", 7),
    v("理想", "L6", 250_000, &["LW4"], "理想", 5),
    v("蔚来", "ET5", 300_000, &["LJ1"], "蔚来", 3),
    v("五菱", "宏光MINIEV", 50_000, &["LZW"], "五菱", 6),
    v("吉利", "银河L6", 100_000, &["L6T", "LB3"], "吉利", 4),
];

const ICE_VEHICLES: &[VehicleModel] = &[
    v("大众", "朗逸", 120_000, &["LSV"], "大众", 10),
    v("大众", "帕萨特", 220_000, &["LSV"], "大众", 4),
    v("大众", "速腾", 150_000, &["LFV"], "一汽-大众", 6),
    v("大众", "迈腾", 210_000, &["LFV"], "一汽-大众", 4),
    v("奥迪", "A4L", 320_000, &["LFV"], "奥迪", 3),
    v("丰田", "卡罗拉", 120_000, &["LFM"], "丰田", 7),
    v("丰田", "凯美瑞", 200_000, &["LVG"], "丰田", 5),
    v("本田", "雅阁", 180_000, &["LHG"], "本田", 5),
    v("本田", "思域", 130_000, &["LVH"], "本田", 4),
    v("日产", "轩逸", 110_000, &["LGB"], "日产", 8),
    v("别克", "英朗", 100_000, &["LSG"], "别克", 5),
    v("凯迪拉克", "CT5", 280_000, &["LSG"], "凯迪拉克", 2),
    v("福特", "蒙迪欧", 180_000, &["LVS"], "福特", 3),
    v("吉利", "星越L", 150_000, &["L6T", "LB3"], "吉利", 6),
    v("吉利", "帝豪", 80_000, &["L6T", "LB3"], "吉利", 6),
    v("长安", "CS75 PLUS", 120_000, &["LS5"], "长安", 6),
    v("哈弗", "H6", 120_000, &["LGW"], "哈弗", 6),
    v("宝马", "3系", 320_000, &["LBV"], "宝马", 3),
    v("奔驰", "C级", 350_000, &["LE4"], "奔驰", 3),
    v("北京", "X7", 110_000, &["LNB"], "北京汽车", 2),
];

/// Every vehicle (new-energy and combustion) for the products that are not new-energy only.
const VEHICLES: &[VehicleModel] = &concat_vehicles();
const VEHICLES_WEIGHT: u32 = vehicles_weight(VEHICLES);
const NEV_WEIGHT: u32 = vehicles_weight(NEV_VEHICLES);

const fn vehicles_weight(items: &[VehicleModel]) -> u32 {
    let mut total = 0;
    let mut rest = items;
    while let [item, tail @ ..] = rest {
        total += item.weight;
        rest = tail;
    }
    total
}

const fn concat_vehicles() -> [VehicleModel; NEV_VEHICLES.len() + ICE_VEHICLES.len()] {
    let mut all = [const { v("", "", 0, &[], "", 0) }; NEV_VEHICLES.len() + ICE_VEHICLES.len()];
    let mut slots: &mut [VehicleModel] = &mut all;
    let (mut nev, mut ice) = (NEV_VEHICLES, ICE_VEHICLES);
    // The new-energy vehicles, then the combustion ones: exactly as many as there are slots.
    while let Some((slot, rest)) = slots.split_first_mut() {
        let x = if let [x, tail @ ..] = nev {
            nev = tail;
            x
        } else if let [x, tail @ ..] = ice {
            ice = tail;
            x
        } else {
            break;
        };
        *slot = v(
            x.brand,
            x.model,
            x.price_yuan,
            x.wmis,
            x.dealer_brand,
            x.weight,
        );
        slots = rest;
    }
    all
}

const DEALER_GROUPS: &[&str] = &[
    "中升",
    "永达",
    "广汇",
    "庞大",
    "利星行",
    "宝利德",
    "恒信",
    "和谐",
    "润华",
    "元通",
    "大昌行",
    "正通",
    "物产",
    "新丰泰",
    "冀东",
    "运通",
];

struct City {
    name: &'static str,
    /// Real district codes (the first six digits of ID numbers issued there).
    districts: &'static [&'static str],
    weight: u32,
}

const CITIES: &[City] = &[
    City {
        name: "北京市",
        districts: &["110105", "110108", "110102", "110106"],
        weight: 10,
    },
    City {
        name: "上海市",
        districts: &["310104", "310115", "310110", "310112"],
        weight: 10,
    },
    City {
        name: "广州市",
        districts: &["440106", "440104", "440105"],
        weight: 8,
    },
    City {
        name: "深圳市",
        districts: &["440305", "440304", "440303"],
        weight: 8,
    },
    City {
        name: "成都市",
        districts: &["510107", "510104", "510105"],
        weight: 7,
    },
    City {
        name: "重庆市",
        districts: &["500103", "500105", "500112"],
        weight: 7,
    },
    City {
        name: "杭州市",
        districts: &["330106", "330105", "330108"],
        weight: 6,
    },
    City {
        name: "武汉市",
        districts: &["420106", "420102", "420111"],
        weight: 6,
    },
    City {
        name: "西安市",
        districts: &["610113", "610103", "610104"],
        weight: 5,
    },
    City {
        name: "南京市",
        districts: &["320102", "320104", "320106"],
        weight: 5,
    },
    City {
        name: "天津市",
        districts: &["120101", "120103", "120104"],
        weight: 5,
    },
    City {
        name: "苏州市",
        districts: &["320505", "320506", "320508"],
        weight: 5,
    },
    City {
        name: "长沙市",
        districts: &["430104", "430102", "430103"],
        weight: 4,
    },
    City {
        name: "郑州市",
        districts: &["410105", "410102", "410103"],
        weight: 4,
    },
    City {
        name: "青岛市",
        districts: &["370202", "370203", "370212"],
        weight: 3,
    },
    City {
        name: "济南市",
        districts: &["370102", "370103", "370104"],
        weight: 3,
    },
    City {
        name: "合肥市",
        districts: &["340104", "340103", "340111"],
        weight: 3,
    },
    City {
        name: "沈阳市",
        districts: &["210102", "210103", "210104"],
        weight: 3,
    },
    City {
        name: "昆明市",
        districts: &["530102", "530103", "530111"],
        weight: 3,
    },
    City {
        name: "佛山市",
        districts: &["440604", "440605", "440606"],
        weight: 3,
    },
    City {
        name: "宁波市",
        districts: &["330203", "330205", "330212"],
        weight: 3,
    },
    City {
        name: "厦门市",
        districts: &["350203", "350206", "350211"],
        weight: 2,
    },
];
const CITIES_WEIGHT: u32 = {
    let mut total = 0;
    let mut rest = CITIES;
    while let [city, tail @ ..] = rest {
        total += city.weight;
        rest = tail;
    }
    total
};

const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "147", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "193", "195",
    "198", "199",
];

/// Common surnames with their frequency in tenths of a percent.
const SURNAMES: &[(&str, u32)] = &[
    ("王", 71),
    ("李", 70),
    ("张", 67),
    ("刘", 54),
    ("陈", 46),
    ("杨", 31),
    ("黄", 25),
    ("赵", 23),
    ("吴", 20),
    ("周", 19),
    ("徐", 15),
    ("孙", 15),
    ("马", 14),
    ("朱", 13),
    ("胡", 13),
    ("郭", 12),
    ("何", 12),
    ("高", 11),
    ("林", 11),
    ("罗", 11),
    ("郑", 10),
    ("梁", 10),
    ("谢", 9),
    ("宋", 8),
    ("唐", 8),
    ("许", 7),
    ("韩", 7),
    ("冯", 7),
    ("邓", 7),
    ("曹", 7),
    ("彭", 6),
    ("曾", 6),
    ("肖", 6),
    ("田", 6),
    ("董", 5),
    ("袁", 5),
    ("潘", 5),
    ("于", 5),
    ("蒋", 5),
    ("蔡", 5),
    ("余", 5),
    ("杜", 5),
    ("叶", 5),
    ("程", 5),
    ("苏", 4),
    ("魏", 4),
    ("吕", 4),
    ("丁", 4),
    ("任", 4),
    ("沈", 4),
    ("姚", 4),
    ("卢", 4),
    ("姜", 4),
    ("崔", 3),
    ("钟", 3),
    ("谭", 3),
    ("陆", 3),
    ("汪", 3),
    ("范", 3),
    ("金", 3),
    ("石", 3),
    ("廖", 3),
    ("贾", 3),
    ("夏", 3),
    ("韦", 3),
    ("方", 3),
    ("白", 3),
    ("邹", 3),
    ("孟", 3),
    ("熊", 3),
    ("秦", 3),
    ("邱", 3),
    ("江", 3),
    ("尹", 3),
    ("薛", 2),
    ("闫", 2),
    ("段", 2),
    ("雷", 2),
    ("侯", 2),
    ("龙", 2),
    ("史", 2),
    ("陶", 2),
    ("黎", 2),
    ("贺", 2),
    ("顾", 2),
    ("毛", 2),
    ("郝", 2),
    ("龚", 2),
    ("邵", 2),
    ("万", 2),
    ("钱", 2),
    ("严", 2),
    ("欧阳", 1),
    ("上官", 1),
];
const SURNAMES_WEIGHT: u32 = pairs_weight(SURNAMES);

const MALE_SINGLE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "旭", "宁", "龙", "林", "峰", "晨", "博", "阳",
    "亮", "毅", "昊",
];
const MALE_DOUBLE: &[&str] = &[
    "建国", "志强", "建华", "晓明", "俊杰", "子轩", "浩然", "宇航", "文博", "家豪", "明辉", "志伟",
    "海涛", "永强", "国栋", "天宇", "振华", "立新", "晓东", "鹏飞", "文杰", "思远", "一鸣", "子豪",
    "建军", "志明", "国强", "伟东", "俊峰", "宏伟", "雨泽", "嘉豪", "博文", "昊天", "明轩", "家乐",
    "卫东", "成龙", "建平", "德华",
];
const FEMALE_SINGLE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "婷", "雪", "慧", "颖", "琳", "倩",
    "洁", "萍", "红", "梅", "莉", "晶", "欣", "悦", "佳", "琪", "怡", "璐", "丹", "蕾", "瑶", "薇",
];
const FEMALE_DOUBLE: &[&str] = &[
    "秀英", "桂英", "丽娟", "晓燕", "婷婷", "雅琪", "欣怡", "梓涵", "思琪", "佳怡", "雨萱", "丽华",
    "春梅", "海燕", "晓丽", "美玲", "静怡", "慧敏", "淑芬", "玉兰", "丽丽", "晓红", "文静", "佳琪",
    "雪梅", "秀兰", "小红", "诗涵", "梦瑶", "雨婷", "可欣", "紫涵", "晓雯", "明月", "亚楠", "春燕",
];

const PUBLIC_EMPLOYERS: &[&str] = &[
    "第一人民医院",
    "中心医院",
    "第二中学",
    "实验小学",
    "地铁集团有限公司",
    "公交集团有限公司",
    "供电公司",
    "自来水有限公司",
    "市场监督管理局",
    "城市建设投资集团有限公司",
    "人民医院",
];
const LARGE_EMPLOYERS: &[&str] = &[
    "中国平安人寿保险股份有限公司",
    "中国建筑第八工程局有限公司",
    "国家电网有限公司",
    "顺丰速运有限公司",
    "中国移动通信集团有限公司",
    "中国工商银行股份有限公司",
    "比亚迪股份有限公司",
    "华为技术有限公司",
    "京东物流集团",
    "美团",
    "中国石油化工股份有限公司",
    "招商银行股份有限公司",
    "中国邮政集团有限公司",
    "海尔集团",
    "富士康科技集团",
];
const TRADE_NAMES: &[&str] = &[
    "恒达", "鑫源", "华信", "博远", "金桥", "瑞丰", "宏图", "天诚", "永盛", "嘉禾", "众诚", "汇通",
    "新锐", "盛世", "东方", "中联", "创新", "锦程", "星辰", "远航", "德润", "佳宁", "安泰", "百川",
];
const INDUSTRIES: &[&str] = &[
    "科技",
    "贸易",
    "物流",
    "建筑工程",
    "餐饮管理",
    "电子",
    "机械制造",
    "医药",
    "教育咨询",
    "房地产经纪",
    "网络科技",
    "汽车服务",
    "服装",
    "食品",
    "装饰工程",
    "文化传媒",
    "信息技术",
    "商贸",
];
