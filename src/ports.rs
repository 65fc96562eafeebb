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
        f.debug_struct("OutgoingEmail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// Returns `Ok(None)` when no profile has this id.
    async fn find_profile(&self, id: &ProfileId) -> Result<Option<ProfileRecord>, BackendError>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores `record` as the profile's only token, replacing any earlier one.
    async fn put_token(&self, record: &TokenRecord) -> Result<(), BackendError>;

    /// Deletes the profile's token if it is still the one with `token_hash`; a newer token
    /// or a missing item is left as it is and counts as success.
    async fn revoke_token(&self, profile_id: &ProfileId, token_hash: &str) -> Result<(), BackendError>;
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send_email(&self, email: &OutgoingEmail) -> Result<(), BackendError>;
}
