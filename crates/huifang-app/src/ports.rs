//! Ports: one trait per kind of outside system Huifang talks to.
//!
//! The shape every integration takes (ARCHITECTURE.md, "Outside systems and background work"):
//! - a **port** here, a trait naming what Huifang asks of the system, in domain terms;
//! - a **sans-I/O decision step** in the application or the core, a pure function of what the
//!   port answered and what Huifang kept (the witness's `ledger::witness_step`), so that every
//!   rule is tested without the system;
//! - a **use case** that drives the steps through the port (`ledger::witness_once`);
//! - the **real adapter** beside the binary (`huifang-cli/src/adapters.rs`), and test servers
//!   on loopback in the tests;
//! - a **worker** loop owned by the binary (`huifang-cli/src/workers.rs`) for what runs on a
//!   schedule.
//!
//! Systems today: another Huifang server's tamper-evident log ([`LogSource`], followed by the
//! witness); the channels' providers ([`Courier`]: an SMTP server, SMS and WeChat gateways, a
//! telephony provider), driven by the outbox's worker (`notify::deliver_once`). Webhook
//! subscribers and GPS vendors take the same shape.

use std::collections::BTreeMap;
use std::future::Future;

use huifang_core::outcome::Channel;

use huifang_ledger::Hash;

/// A call to an outside system failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{system}: {message}")]
pub struct PortError {
    /// Which system (its address, or its name).
    pub system: String,
    pub message: String,
    pub failure: Failure,
}

/// How a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Unreachable, timed out, or refused with an error status: asking again later may succeed.
    Unreachable,
    /// It answered, but not with what the port promises (a body that does not parse): a fault of
    /// the system to report, not to retry.
    Malformed,
    /// It refused this request for good (a client error: a bad number, a template unknown):
    /// asking again would be refused again.
    Rejected,
}

/// Another Huifang server's log, as a witness reads it (`GET /api/v1/ledger/checkpoint` and
/// `GET /api/v1/ledger/proof/consistency` over HTTP in the real adapter).
pub trait LogSource {
    /// The latest signed checkpoint note, as published.
    fn checkpoint(&self) -> impl Future<Output = Result<String, PortError>> + Send;

    /// The RFC 6962 consistency proof from the tree of `first` leaves to that of `second`.
    fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> impl Future<Output = Result<Vec<Hash>, PortError>> + Send;
}

/// A message ready for its provider: rendered and addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The outbox's id.
    pub id: i64,
    /// The provider sends a message once however often it is handed over with this key.
    pub idempotency_key: String,
    pub channel: Channel,
    /// The event (`reminder_before`, …, `call`).
    pub event: String,
    /// The mobile (SMS, phone), email address or WeChat open id.
    pub to: String,
    /// Email only.
    pub subject: String,
    pub body: String,
    /// The template's fields and their values (WeChat template messages are sent as these).
    pub fields: BTreeMap<String, String>,
    /// A call's task and the agent who asked for it.
    pub task_id: Option<i64>,
    pub agent: Option<String>,
}

/// The providers of the message channels.
pub trait Courier: Sync {
    /// The channels it delivers (the worker claims only these).
    fn channels(&self) -> Vec<Channel>;

    /// Hands a message to its channel's provider; returns the provider's id of it (a message
    /// id, a call id).
    fn send(&self, message: &Outgoing) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// Webhook subscribers' endpoints (an HTTP POST of JSON in the real adapter).
pub trait WebhookPoster: Sync {
    /// Posts a signed delivery to `url` with `headers`; the status the subscriber answered, or
    /// why no answer came.
    fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> impl Future<Output = Result<u16, PortError>> + Send;
}
