//! reset-mailer: an AWS Lambda that implements the brainCloud server-side call
//! `SYS_SEND_PASSWORD_RESET_EMAIL_WITH_EXPIRY` (service `user`).
//!
//! # Layout
//!
//! A request flows from top to bottom:
//!
//! - [`trigger`]: recognises the event (HTTP payloads, EventBridge, direct invoke), decodes
//!   it and shapes the result for that trigger.
//! - [`servop`]: parses the servop JSON into a typed [`servop::ResetRequest`].
//! - [`domain`]: the typed values (profile id, token lifetime, email address, token).
//! - [`reset`]: the use case (read the profile, store the token, send the email) and the
//!   [`reset::App`] that contains its dependencies.
//! - [`email`]: the reset link and the message text.
//! - [`ratelimit`]: the per-profile send limit over the stored send history.
//! - [`ports`]: the traits the use case needs: profiles, tokens and request records, mail.
//! - [`aws`]: DynamoDB and SES v2 implementations of the ports, and the SDK setup.
//! - [`embedded`]: local implementations for the demo runner and for tests.
//! - [`config`], [`error`], [`telemetry`]: settings, the brainCloud error mapping, logging.

#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod domain;
pub mod email;
pub mod embedded;
pub mod error;
pub mod ports;
pub mod ratelimit;
pub mod reset;
pub mod servop;
pub mod telemetry;
pub mod trigger;
