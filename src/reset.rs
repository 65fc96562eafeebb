//! The use case: validate the profile, store a token, send the email.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{error, info, instrument, warn};

use crate::config::Settings;
use crate::domain::{os_random_secret, EmailAddress, ResetToken, TOKEN_SECRET_BYTES};
use crate::email::{compose, reset_link};
use crate::error::ResetError;
use crate::ports::{EmailIdentity, Mailer, ProfileStore, TokenRecord, TokenStore};
use crate::servop::ResetRequest;

/// Source of the current time, injectable so tests can check expiry exactly.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Source of token secrets, injectable so tests can predict tokens.
pub type SecretSource = Arc<dyn Fn() -> [u8; TOKEN_SECRET_BYTES] + Send + Sync>;

/// Everything a request needs, built once per execution environment.
#[derive(Clone)]
pub struct App {
    pub settings: Settings,
    pub profiles: Arc<dyn ProfileStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Clock,
    pub secrets: SecretSource,
}

impl App {
    /// Wires the ports with the system clock and the OS random source.
    pub fn new(
        settings: Settings,
        profiles: Arc<dyn ProfileStore>,
        tokens: Arc<dyn TokenStore>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        Self {
            settings,
            profiles,
            tokens,
            mailer,
            clock: Arc::new(SystemTime::now),
            secrets: Arc::new(os_random_secret),
        }
    }
}

/// Sends one password reset email.
///
/// The token item is written before the email is sent. If sending fails, the item is
/// deleted again, so a failed request leaves no usable token. If that delete fails too,
/// the error is logged; the token is then still unknown to everyone because no email
/// carried it.
#[instrument(skip_all, fields(profile_id = %request.profile_id, ttl_minutes = request.ttl.minutes()))]
pub async fn send_password_reset(app: &App, request: &ResetRequest) -> Result<(), ResetError> {
    let profile = app
        .profiles
        .find_profile(&request.profile_id)
        .await
        .map_err(ResetError::Database)?
        .ok_or(ResetError::ProfileNotFound)?;

    let recipient = match &profile.email {
        EmailIdentity::Absent => return Err(ResetError::MissingIdentity),
        EmailIdentity::NotText => return Err(ResetError::EmailNotValid),
        EmailIdentity::Text(raw) => EmailAddress::parse(raw).ok_or(ResetError::EmailNotValid)?,
    };

    let now = epoch_seconds((app.clock)());
    let token = ResetToken::new(&request.profile_id, (app.secrets)());
    let record = TokenRecord {
        profile_id: request.profile_id.clone(),
        token_hash: token.digest(),
        created_at: now,
        expires_at: now + request.ttl.seconds(),
    };
    app.tokens.put_token(&record).await.map_err(ResetError::Database)?;

    let link = reset_link(&app.settings.reset_url_base, &token);
    let email = compose(
        &app.settings,
        &profile,
        recipient,
        &link,
        request.ttl,
        record.expires_at,
    );

    if let Err(send_error) = app.mailer.send_email(&email).await {
        warn!(error = %send_error, "sending failed; revoking the token just stored");
        if let Err(revoke_error) = app.tokens.revoke_token(&record.profile_id, &record.token_hash).await {
            error!(error = %revoke_error, "revoking the unsent token failed; it stays stored until it expires");
        }
        return Err(ResetError::EmailSend(send_error));
    }

    info!(expires_at = record.expires_at, "password reset email sent");
    Ok(())
}

/// Whole seconds since the Unix epoch; a clock before 1970 reads as 0.
pub fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
