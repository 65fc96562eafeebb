//! The error type at the service boundary and its brainCloud status and reason codes.

use serde_json::{json, Value};

/// brainCloud reason codes used by this operation.
pub mod reason {
    pub const JSON_PARSING_ERROR: u32 = 40408;
    pub const INVALID_OPERATION: u32 = 40333;
    pub const MISSING_REQUIRED_PARAMETER: u32 = 40358;
    pub const INVALID_PARAMETER_TYPE: u32 = 40359;
    pub const INVALID_PARAMETER_VALUE: u32 = 40660;
    pub const PROFILE_NOT_FOUND: u32 = 40446;
    pub const MISSING_IDENTITY_ERROR: u32 = 40206;
    pub const EMAIL_NOT_VALID: u32 = 40221;
    pub const EMAIL_SEND_ERROR: u32 = 40361;
    pub const DATABASE_ERROR: u32 = 40215;
    pub const USER_RATE_LIMIT_EXCEEDED: u32 = 40823;
}

/// A failed call to DynamoDB, SES or a local stand-in for them.
///
/// `detail` is meant for the log only. Adapters fill it with an error code, an HTTP status
/// or a transport error, never with a message body that could quote an email address.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed ({}): {detail}", if *.retryable { "retryable" } else { "permanent" })]
pub struct BackendError {
    operation: &'static str,
    retryable: bool,
    /// The request may have reached the service and taken effect (a time-out or a lost
    /// response after it was sent).
    outcome_unknown: bool,
    detail: String,
}

impl BackendError {
    pub fn retryable(operation: &'static str, detail: impl Into<String>) -> Self {
        Self { operation, retryable: true, outcome_unknown: false, detail: detail.into() }
    }

    pub fn permanent(operation: &'static str, detail: impl Into<String>) -> Self {
        Self { operation, retryable: false, outcome_unknown: false, detail: detail.into() }
    }

    /// Creates a retryable failure after which the call may still have taken effect.
    pub fn outcome_unknown(operation: &'static str, detail: impl Into<String>) -> Self {
        Self { operation, retryable: true, outcome_unknown: true, detail: detail.into() }
    }

    /// Returns whether the call may have taken effect despite the error.
    pub fn may_have_succeeded(&self) -> bool {
        self.outcome_unknown
    }

    /// Returns whether the same call may succeed when tried again (throttling, 5xx, time-outs).
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    pub fn operation(&self) -> &'static str {
        self.operation
    }
}

/// Every way a password reset request can fail.
///
/// The `Display` text is the `status_message` sent to the caller, so it names the field
/// that was wrong but never echoes request values, stored values or backend detail.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResetError {
    #[error("{0}")]
    JsonParsing(String),
    #[error("{0}")]
    InvalidOperation(String),
    #[error("Missing required parameter '{0}'.")]
    MissingParameter(&'static str),
    #[error("Parameter '{field}' must be {expected}.")]
    InvalidType { field: &'static str, expected: &'static str },
    #[error("Invalid value for parameter '{field}': {problem}.")]
    InvalidValue { field: &'static str, problem: String },
    #[error("No profile exists with the given profileId.")]
    ProfileNotFound,
    #[error("The profile has no email identity.")]
    MissingIdentity,
    #[error("The profile's email identity is not a valid email address.")]
    EmailNotValid,
    #[error("The password reset email could not be sent.")]
    EmailSend(#[source] BackendError),
    #[error("A database operation failed.")]
    Database(#[source] BackendError),
    #[error("Too many password reset requests for this profile; retry after {retry_after} seconds.")]
    RateLimited { retry_after: u64 },
    #[error("A request with the same idempotency key is still in progress; retry after {retry_after} seconds.")]
    InProgress { retry_after: u64 },
}

impl ResetError {
    pub fn reason_code(&self) -> u32 {
        match self {
            Self::JsonParsing(_) => reason::JSON_PARSING_ERROR,
            Self::InvalidOperation(_) => reason::INVALID_OPERATION,
            Self::MissingParameter(_) => reason::MISSING_REQUIRED_PARAMETER,
            Self::InvalidType { .. } => reason::INVALID_PARAMETER_TYPE,
            Self::InvalidValue { .. } => reason::INVALID_PARAMETER_VALUE,
            Self::ProfileNotFound => reason::PROFILE_NOT_FOUND,
            Self::MissingIdentity => reason::MISSING_IDENTITY_ERROR,
            Self::EmailNotValid => reason::EMAIL_NOT_VALID,
            Self::EmailSend(_) => reason::EMAIL_SEND_ERROR,
            Self::Database(_) => reason::DATABASE_ERROR,
            Self::RateLimited { .. } | Self::InProgress { .. } => reason::USER_RATE_LIMIT_EXCEEDED,
        }
    }

    /// Returns the servop status, which the HTTP status code mirrors.
    pub fn status(&self) -> u16 {
        match self {
            Self::ProfileNotFound => 404,
            Self::RateLimited { .. } => 429,
            Self::InProgress { .. } => 409,
            Self::EmailSend(cause) | Self::Database(cause) if cause.is_retryable() => 503,
            Self::EmailSend(_) | Self::Database(_) => 500,
            _ => 400,
        }
    }

    /// Returns whether the caller may succeed by sending the same request again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::EmailSend(cause) | Self::Database(cause) => cause.is_retryable(),
            // The first delivery may still fail and be retried: check again later.
            Self::InProgress { .. } => true,
            _ => false,
        }
    }

    /// Seconds until the same request may succeed, for rate-limit and in-progress errors.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after } | Self::InProgress { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// Builds the brainCloud-style error object returned to the caller.
    pub fn to_response(&self) -> Value {
        let mut body = json!({
            "status": self.status(),
            "reason_code": self.reason_code(),
            "status_message": self.to_string(),
            "severity": "ERROR",
        });
        if let Some(seconds) = self.retry_after() {
            body["retryAfterSeconds"] = json!(seconds);
        }
        body
    }
}

/// Builds the servop response of a request that succeeded.
pub fn success_response() -> Value {
    json!({ "status": 200, "data": null })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_retryability() {
        let throttled = ResetError::EmailSend(BackendError::retryable("SendEmail", "429"));
        let rejected = ResetError::EmailSend(BackendError::permanent("SendEmail", "MessageRejected"));
        let db_down = ResetError::Database(BackendError::retryable("GetItem", "500"));

        assert_eq!(throttled.status(), 503);
        assert_eq!(rejected.status(), 500);
        assert_eq!(db_down.status(), 503);
        assert_eq!(db_down.reason_code(), reason::DATABASE_ERROR);
    }

    #[test]
    fn response_hides_backend_detail() {
        let error = ResetError::EmailSend(BackendError::permanent("SendEmail", "MessageRejected: x@y"));
        let body = error.to_response();

        assert_eq!(body["status"], 500);
        assert_eq!(body["reason_code"], 40361);
        assert_eq!(body["severity"], "ERROR");
        assert!(!body.to_string().contains("x@y"));
        assert!(!body.to_string().contains("MessageRejected"));
    }
}
