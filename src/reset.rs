//! The use case: check the profile and the limits, store a token, send the email, and
//! make repeated deliveries of one request send at most one email.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tracing::{error, info, instrument, warn};

use crate::config::Settings;
use crate::domain::{os_random_secret, EmailAddress, ResetToken, TOKEN_SECRET_BYTES};
use crate::email::{compose, reset_link};
use crate::error::{success_response, BackendError, ResetError};
use crate::ports::{
    BeginOutcome, DeliveryRecord, EmailIdentity, Ledger, Mailer, ProfileRecord, ProfileStore, SendHistory, SendPlan,
    TokenRecord, TokenStore,
};
use crate::ratelimit::{admit, Limits};
use crate::servop::ResetRequest;

/// How long duplicates of a delivery wait for the first one, in seconds. It is longer than
/// the 30 s function time-out in `template.yaml`, so the first invocation has ended by then.
pub const DELIVERY_LOCK_SECONDS: u64 = 60;

/// How long a completed delivery's response is kept for retries, in seconds.
pub const DELIVERY_RECORD_SECONDS: u64 = 24 * 3600;

/// Reads of the ledger after a write conflict before giving up.
const MAX_CONFLICT_RETRIES: usize = 3;

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

    fn now(&self) -> u64 {
        epoch_seconds((self.clock)())
    }

    fn limits(&self) -> Limits {
        Limits {
            resend_interval_seconds: u64::from(self.settings.resend_interval_seconds),
            max_per_window: self.settings.max_resets_per_hour as usize,
        }
    }
}

/// Sends one password reset email and returns the servop response.
///
/// `delivery_key` identifies the delivery (an EventBridge event id, an API Gateway request
/// id or a caller's idempotency key). Deliveries with the same key send at most one email:
/// a retry of a completed delivery gets the stored response, a duplicate of a running one
/// gets [`ResetError::InProgress`].
///
/// The token is stored before the email is sent. If the send certainly failed, the token,
/// the send history and the delivery record are restored, so nothing usable remains. If
/// the send may have happened (a time-out after the request left), the delivery counts as
/// sent and keeps its token.
#[instrument(skip_all, fields(ttl_minutes = request.ttl.minutes()))]
pub async fn send_password_reset(
    app: &App,
    request: &ResetRequest,
    delivery_key: Option<&str>,
) -> Result<Value, ResetError> {
    let ReadyToSend { profile, recipient, plan, secret } = match plan_send(app, request, delivery_key).await? {
        Planned::Ready(ready) => *ready,
        Planned::Done(response) => return Ok(response),
    };

    let token = ResetToken::new(&request.profile_id, secret);
    let link = reset_link(&app.settings.reset_url_base, &token);
    let email = compose(&app.settings, &profile, recipient, &link, request.ttl, plan.token.expires_at);

    match app.mailer.send_email(&email).await {
        Ok(()) => info!(expires_at = plan.token.expires_at, "password reset email sent"),
        Err(send_error) if send_error.may_have_succeeded() => {
            warn!(error = %send_error, "the send may have happened; treating the delivery as sent");
        }
        Err(send_error) => {
            warn!(error = %send_error, "sending failed; restoring the token and the send history");
            if let Err(undo_error) = app.tokens.abort_send(&plan).await {
                error!(error = %undo_error, "restoring after the failed send failed; the unsent token stays until it expires");
            }
            return Err(ResetError::EmailSend(send_error));
        }
    }

    let response = success_response();
    if let Some(key) = delivery_key {
        let expires_at = app.now() + DELIVERY_RECORD_SECONDS;
        if let Err(record_error) =
            app.tokens.complete(key, &request.profile_id, &response.to_string(), expires_at).await
        {
            // The record stays "sending" and duplicates treat it as sent once the lock ends.
            error!(error = %record_error, "recording the completed delivery failed");
        }
    }
    Ok(response)
}

/// A stored token whose email is still to be sent. `secret` is the token's random part.
struct ReadyToSend {
    profile: ProfileRecord,
    recipient: EmailAddress,
    plan: SendPlan,
    secret: [u8; TOKEN_SECRET_BYTES],
}

/// The next step after reading the profile and the ledger.
enum Planned {
    /// The token is stored: send the email. `secret` is the token's random part.
    Ready(Box<ReadyToSend>),
    /// The delivery was handled before: the response to repeat.
    Done(Value),
}

/// Reads the profile and the ledger concurrently, applies the checks and stores the
/// token; repeats the reads when a concurrent request wrote first.
async fn plan_send(app: &App, request: &ResetRequest, delivery_key: Option<&str>) -> Result<Planned, ResetError> {
    for _ in 0..MAX_CONFLICT_RETRIES {
        let (profile, ledger) = tokio::join!(
            app.profiles.find_profile(&request.profile_id),
            app.tokens.load(delivery_key, &request.profile_id)
        );
        let ledger = ledger.map_err(ResetError::Database)?;
        let now = app.now();

        let replaces_attempt = match replay(app, &ledger, request, delivery_key, now).await? {
            Replay::Done(response) => return Ok(Planned::Done(response)),
            Replay::Fresh => None,
            Replay::Retake(stale_hash) => Some(stale_hash),
        };

        let profile = profile.map_err(ResetError::Database)?.ok_or(ResetError::ProfileNotFound)?;
        let recipient = recipient_of(&profile)?;

        let history_after = admit(&ledger.history.sends, now, app.limits())
            .map_err(|retry_after| ResetError::RateLimited { retry_after })?;

        let secret = (app.secrets)();
        let token = ResetToken::new(&request.profile_id, secret);
        let plan = SendPlan {
            token: TokenRecord {
                profile_id: request.profile_id.clone(),
                token_hash: token.digest(),
                created_at: now,
                expires_at: now + request.ttl.seconds(),
            },
            delivery_key: delivery_key.map(str::to_owned),
            replaces_attempt,
            locked_until: now + DELIVERY_LOCK_SECONDS,
            history_before: ledger.history.clone(),
            history_after: SendHistory { sends: history_after, version: ledger.history.version + 1 },
        };

        let outcome = match app.tokens.begin_send(&plan).await {
            Ok(outcome) => outcome,
            Err(write_error) => {
                // The transaction may have been applied with its response lost. Undo it, so
                // that no token and no "sending" record stay behind for an email never sent.
                if let Err(undo_error) = app.tokens.abort_send(&plan).await {
                    error!(error = %undo_error, "undoing the failed token write failed");
                }
                return Err(ResetError::Database(write_error));
            }
        };
        match outcome {
            BeginOutcome::Started => {
                return Ok(Planned::Ready(Box::new(ReadyToSend { profile, recipient, plan, secret })));
            }
            BeginOutcome::Conflict => info!("a concurrent request wrote first; reading again"),
        }
    }
    Err(ResetError::Database(BackendError::retryable("TransactWriteItems", "conflicting concurrent requests")))
}

/// The meaning of a delivery key seen before, for this request.
enum Replay {
    /// No earlier attempt: go ahead.
    Fresh,
    /// Return this response and send nothing.
    Done(Value),
    /// An earlier attempt stopped without sending (its token is gone): replace its record,
    /// named by its token hash, and send.
    Retake(String),
}

/// Handles a delivery key seen before: repeats a completed response, turns away a
/// duplicate of a running delivery, and settles a delivery whose invocation stopped.
async fn replay(
    app: &App,
    ledger: &Ledger,
    request: &ResetRequest,
    delivery_key: Option<&str>,
    now: u64,
) -> Result<Replay, ResetError> {
    let (Some(record), Some(key)) = (&ledger.delivery, delivery_key) else { return Ok(Replay::Fresh) };

    let owner = match record {
        DeliveryRecord::Sending { profile_id, .. } | DeliveryRecord::Completed { profile_id, .. } => profile_id,
    };
    if owner != request.profile_id.as_str() {
        return Err(ResetError::InvalidValue {
            field: "idempotencyKey",
            problem: "was already used for a request for another profile".into(),
        });
    }

    match record {
        DeliveryRecord::Completed { response, .. } => {
            info!("repeating the response of a completed delivery");
            Ok(Replay::Done(serde_json::from_str(response).unwrap_or_else(|_| success_response())))
        }
        DeliveryRecord::Sending { locked_until, .. } if now < *locked_until => {
            Err(ResetError::InProgress { retry_after: locked_until - now })
        }
        DeliveryRecord::Sending { token_hash, .. } => {
            // The invocation that stored the token stopped before recording the result. If
            // its token is gone, its undo ran (in part) and the email was certainly not sent.
            let current = app.tokens.current_token_hash(&request.profile_id).await.map_err(ResetError::Database)?;
            if current.as_ref() != Some(token_hash) {
                info!("retrying a delivery whose earlier attempt stopped without sending");
                return Ok(Replay::Retake(token_hash.clone()));
            }
            // Its token is stored and its email may have gone out: this delivery counts as sent.
            warn!("closing a delivery whose invocation stopped during the send");
            let response = success_response();
            app.tokens
                .complete(key, &request.profile_id, &response.to_string(), now + DELIVERY_RECORD_SECONDS)
                .await
                .map_err(ResetError::Database)?;
            Ok(Replay::Done(response))
        }
    }
}

fn recipient_of(profile: &ProfileRecord) -> Result<EmailAddress, ResetError> {
    match &profile.email {
        EmailIdentity::Absent => Err(ResetError::MissingIdentity),
        EmailIdentity::NotText => Err(ResetError::EmailNotValid),
        EmailIdentity::Text(raw) => EmailAddress::parse(raw).ok_or(ResetError::EmailNotValid),
    }
}

/// Whole seconds since the Unix epoch; a clock before 1970 reads as 0.
pub fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}
