//! Huifang's domain core.
//!
//! Everything here is a pure function of its inputs and of the business date passed in: no SQL,
//! no HTTP, no JSON, no clock, no randomness. Every business rule of the product brief lives here
//! once; the storage, application and command-line crates only move values in and out.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod analytics;
pub mod assistant;
pub mod calendar;
pub mod case;
pub mod contact;
pub mod decision;
pub mod followup;
pub mod ids;
pub mod keys;
pub mod loan;
pub mod money;
pub mod notify;
pub mod outcome;
pub mod policy;
pub mod report;
pub mod schedule;
pub mod score;
pub mod status;
pub mod team;
pub mod template;
pub mod text;
pub mod vehicle;
pub mod warning;
pub mod webhook;

pub use calendar::Date;
pub use keys::{BorrowerId, LoanId, TaskId, UserId};
pub use money::{Money, Rate};
