//! The three seams of the use case: where profiles come from, where tokens go and how
//! email leaves. AWS adapters live in `aws`, local ones in `embedded`.

use std::fmt;

use async_trait::async_trait;

use crate::domain::{EmailAddress, ProfileId};
use crate::error::BackendError;

/// The parts of a stored profile that the email needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord {
    pub email: EmailIdentity,
    pub user_name: Option<String>,
    pub language_code: Option<String>,
}

/// The stored email identity (`identities.Email`), before validation.
#[derive(Clone, PartialEq, Eq)]
pub enum EmailIdentity {
    /// No `identities` map, no `Email` entry, or an empty string.
    Absent,
    /// An `Email` entry that is not a string (a list or a number, for example).
    NotText,
    Text(String),
}

impl fmt::Debug for EmailIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absent => f.write_str("Absent"),
            Self::NotText => f.write_str("NotText"),
            Self::Text(_) => f.write_str("Text(<redacted>)"),
        }
    }
}

/// One issued token as stored: the digest, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub profile_id: ProfileId,
    /// Lowercase hex SHA-256 of the token string.
    pub token_hash: String,
    /// Epoch seconds, UTC.
    pub created_at: u64,
    /// Epoch seconds, UTC: the token is usable while `now < expires_at`.
    pub expires_at: u64,
}

/// A composed message, ready for SES `SendEmail`.
#[derive(Clone)]
pub struct OutgoingEmail {
    pub from: String,
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: String,
}

// The bodies carry the reset link: keep them out of debug output.
impl fmt::Debug for OutgoingEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingEmail").field("subject", &self.subject).finish_non_exhaustive()
    }
}

#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// Returns `Ok(None)` when no profile has this id.
    async fn find_profile(&self, id: &ProfileId) -> Result<Option<ProfileRecord>, BackendError>;
}

/// What is known about one delivery (one idempotency key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryRecord {
    /// A token was stored and the email is being sent, or was being sent when the
    /// invocation stopped. Other deliveries with this key wait until `locked_until`.
    /// `token_hash` names the token this attempt stored, which distinguishes its writes
    /// from those of any other attempt.
    Sending { profile_id: String, token_hash: String, locked_until: u64 },
    /// Done: `response` is the servop response to repeat to any retry.
    Completed { profile_id: String, response: String },
}

/// Epoch seconds of a profile's recent emails, with a version for optimistic locking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendHistory {
    pub sends: Vec<u64>,
    /// 0 when no history item exists.
    pub version: u64,
}

/// The records a request reads before it decides anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    pub delivery: Option<DeliveryRecord>,
    pub history: SendHistory,
}

/// Everything [`TokenStore::begin_send`] writes in one atomic step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPlan {
    pub token: TokenRecord,
    /// Key of the delivery record to create, when the request has one.
    pub delivery_key: Option<String>,
    /// Token hash of a stale `Sending` record that this plan replaces, because that
    /// attempt's token is gone and so its email was certainly not sent.
    pub replaces_attempt: Option<String>,
    /// Epoch seconds until which duplicates of this delivery wait.
    pub locked_until: u64,
    /// The history as read; the write succeeds only if it is still the stored one.
    pub history_before: SendHistory,
    pub history_after: SendHistory,
}

/// Result of [`TokenStore::begin_send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginOutcome {
    Started,
    /// Another request changed the history or claimed the delivery first: read again.
    Conflict,
}

/// Token items and the request records that guard them: delivery records for
/// idempotency and per-profile send history for the rate limit.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Reads the delivery record for `delivery_key` (if given) and the profile's send
    /// history, strongly consistent.
    async fn load(&self, delivery_key: Option<&str>, profile_id: &ProfileId) -> Result<Ledger, BackendError>;

    /// Atomically stores the token (replacing the profile's earlier one), advances the
    /// send history if it is unchanged, and creates the delivery record if it is absent.
    async fn begin_send(&self, plan: &SendPlan) -> Result<BeginOutcome, BackendError>;

    /// Undoes [`TokenStore::begin_send`] after a send that certainly failed, or after a
    /// `begin_send` whose outcome is unknown: deletes the token and the delivery record if
    /// they are still this attempt's, and restores the history if nothing changed it since.
    /// Each step is conditional, so undoing writes that never happened changes nothing.
    async fn abort_send(&self, plan: &SendPlan) -> Result<(), BackendError>;

    /// Returns the hash of the profile's stored token, if one is stored.
    async fn current_token_hash(&self, profile_id: &ProfileId) -> Result<Option<String>, BackendError>;

    /// Marks the delivery completed with the response to repeat; kept until `expires_at`.
    async fn complete(
        &self,
        delivery_key: &str,
        profile_id: &ProfileId,
        response: &str,
        expires_at: u64,
    ) -> Result<(), BackendError>;
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send_email(&self, email: &OutgoingEmail) -> Result<(), BackendError>;
}
