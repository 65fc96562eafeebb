//! Shared helpers for integration tests: a wired-up app over local adapters, faults on
//! command, and event builders for every trigger shape.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use reset_mailer::config::Settings;
use reset_mailer::domain::ProfileId;
use reset_mailer::embedded::{demo_setting, FixtureProfiles, MemoryTokens, Outbox, DEFAULT_PROFILES};
use reset_mailer::error::BackendError;
use reset_mailer::ports::{
    BeginOutcome, Ledger, Mailer, OutgoingEmail, ProfileRecord, ProfileStore, SendPlan, TokenStore,
};
use reset_mailer::reset::App;
use reset_mailer::trigger::{handle_event, RetryableFailure};

/// Fixed "now" of every test app: 2026-12-04T10:00:00Z.
pub const NOW: u64 = 1_796_378_400;

/// The secret every test app uses for its tokens.
pub const SECRET: [u8; 32] = [42; 32];

/// A call that fails on command, standing in for DynamoDB or SES.
#[derive(Clone, Default)]
pub struct Fault(Arc<Mutex<Option<BackendError>>>);

impl Fault {
    pub fn set(&self, error: BackendError) {
        *self.0.lock().expect("fault lock") = Some(error);
    }

    pub fn clear(&self) {
        *self.0.lock().expect("fault lock") = None;
    }

    /// Yields once, so that concurrent requests interleave at every call as they would
    /// over a network, then fails if a fault is set.
    async fn check(&self) -> Result<(), BackendError> {
        tokio::task::yield_now().await;
        match self.0.lock().expect("fault lock").clone() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

struct FaultyProfiles {
    inner: FixtureProfiles,
    fault: Fault,
}

#[async_trait]
impl ProfileStore for FaultyProfiles {
    async fn find_profile(&self, id: &ProfileId) -> Result<Option<ProfileRecord>, BackendError> {
        self.fault.check().await?;
        self.inner.find_profile(id).await
    }
}

struct FaultyTokens {
    inner: Arc<MemoryTokens>,
    load_fault: Fault,
    put_fault: Fault,
    complete_fault: Fault,
    abort_fault: Fault,
}

#[async_trait]
impl TokenStore for FaultyTokens {
    async fn load(&self, delivery_key: Option<&str>, profile_id: &ProfileId) -> Result<Ledger, BackendError> {
        self.load_fault.check().await?;
        self.inner.load(delivery_key, profile_id).await
    }

    async fn begin_send(&self, plan: &SendPlan) -> Result<BeginOutcome, BackendError> {
        self.put_fault.check().await?;
        self.inner.begin_send(plan).await
    }

    async fn abort_send(&self, plan: &SendPlan) -> Result<(), BackendError> {
        self.abort_fault.check().await?;
        self.inner.abort_send(plan).await
    }

    async fn current_token_hash(&self, profile_id: &ProfileId) -> Result<Option<String>, BackendError> {
        self.load_fault.check().await?;
        self.inner.current_token_hash(profile_id).await
    }

    async fn complete(
        &self,
        delivery_key: &str,
        profile_id: &ProfileId,
        response: &str,
        expires_at: u64,
    ) -> Result<(), BackendError> {
        self.complete_fault.check().await?;
        self.inner.complete(delivery_key, profile_id, response, expires_at).await
    }
}

struct FaultyMailer {
    inner: Arc<Outbox>,
    fault: Fault,
}

#[async_trait]
impl Mailer for FaultyMailer {
    async fn send_email(&self, email: &OutgoingEmail) -> Result<(), BackendError> {
        self.fault.check().await?;
        self.inner.send_email(email).await
    }
}

/// An app over the default fixture, in-memory tokens and an in-memory outbox, with a
/// fixed clock and secret, and a fault switch per dependency.
pub struct TestApp {
    pub app: App,
    pub tokens: Arc<MemoryTokens>,
    pub outbox: Arc<Outbox>,
    /// The app's clock, in epoch seconds; starts at [`NOW`].
    pub now: Arc<AtomicU64>,
    pub profile_fault: Fault,
    /// Fails reading the delivery record and send history.
    pub load_fault: Fault,
    /// Fails storing the token (the write before the send).
    pub token_fault: Fault,
    /// Fails recording the completed delivery (the write after the send).
    pub complete_fault: Fault,
    /// Fails undoing the token write after a failed send.
    pub abort_fault: Fault,
    pub mail_fault: Fault,
}

pub fn settings() -> Settings {
    Settings::from_lookup(demo_setting).expect("demo settings are valid")
}

pub fn test_app() -> TestApp {
    let tokens = Arc::new(MemoryTokens::default());
    let outbox = Arc::new(Outbox::default());
    let (profile_fault, token_fault, mail_fault) = (Fault::default(), Fault::default(), Fault::default());
    let (load_fault, complete_fault, abort_fault) = (Fault::default(), Fault::default(), Fault::default());

    let profiles = FaultyProfiles {
        inner: FixtureProfiles::from_json(DEFAULT_PROFILES).expect("fixture"),
        fault: profile_fault.clone(),
    };
    let token_store = FaultyTokens {
        inner: tokens.clone(),
        load_fault: load_fault.clone(),
        put_fault: token_fault.clone(),
        complete_fault: complete_fault.clone(),
        abort_fault: abort_fault.clone(),
    };
    let mailer = FaultyMailer { inner: outbox.clone(), fault: mail_fault.clone() };

    let mut app = App::new(settings(), Arc::new(profiles), Arc::new(token_store), Arc::new(mailer));
    let now = Arc::new(AtomicU64::new(NOW));
    let clock_reading = now.clone();
    app.clock = Arc::new(move || UNIX_EPOCH + Duration::from_secs(clock_reading.load(Ordering::SeqCst)));
    app.secrets = Arc::new(|| SECRET);

    TestApp {
        app,
        tokens,
        outbox,
        now,
        profile_fault,
        load_fault,
        token_fault,
        complete_fault,
        abort_fault,
        mail_fault,
    }
}

impl TestApp {
    pub async fn invoke(&self, event: Value) -> Result<Value, RetryableFailure> {
        handle_event(&self.app, event).await
    }

    /// True when no token is stored and no email was sent.
    /// Moves the app's clock forward by `seconds`.
    pub fn advance(&self, seconds: u64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn untouched(&self) -> bool {
        self.tokens.snapshot().is_empty() && self.outbox.sent().is_empty()
    }
}

pub fn repo_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Reads a JSON file from the repository.
pub fn load_json(relative: &str) -> Value {
    let text = std::fs::read_to_string(repo_file(relative)).unwrap_or_else(|err| panic!("{relative}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{relative}: {err}"))
}

/// Builds the servop for `profile_id` and `ttl` as JSON text.
pub fn servop(profile_id: &str, ttl: u64) -> String {
    json!({
        "service": "user",
        "operation": "SYS_SEND_PASSWORD_RESET_EMAIL_WITH_EXPIRY",
        "data": { "profileId": profile_id, "tokenTtlInMinutes": ttl }
    })
    .to_string()
}

/// The trigger shapes an HTTP body can arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpShape {
    RestV1,
    RestV1Base64,
    HttpV2,
    FunctionUrl,
    Alb,
}

pub const HTTP_SHAPES: [HttpShape; 5] =
    [HttpShape::RestV1, HttpShape::RestV1Base64, HttpShape::HttpV2, HttpShape::FunctionUrl, HttpShape::Alb];

/// Loads the sample event of `shape` from `events/` and replaces its body with `body`.
pub fn http_event(shape: HttpShape, body: &str) -> Value {
    let (file, base64) = match shape {
        HttpShape::RestV1 => ("events/rest-v1.json", false),
        HttpShape::RestV1Base64 => ("events/rest-v1.json", true),
        HttpShape::HttpV2 => ("events/http-v2.json", false),
        HttpShape::FunctionUrl => ("events/function-url.json", false),
        HttpShape::Alb => ("events/alb.json", false),
    };
    let mut event = load_json(file);
    event["body"] = if base64 { json!(STANDARD.encode(body)) } else { json!(body) };
    event["isBase64Encoded"] = json!(base64);
    event
}

/// Loads the EventBridge sample event and replaces its `detail`.
pub fn eventbridge_event(detail: Value) -> Value {
    let mut event = load_json("events/eventbridge.json");
    event["detail"] = detail;
    event
}

/// Status and servop body of an HTTP function result; checks the body is JSON.
pub fn http_result(result: &Value) -> (u64, Value) {
    let status = result["statusCode"].as_u64().expect("statusCode");
    let body = result["body"].as_str().expect("body string");
    (status, serde_json::from_str(body).expect("body is JSON"))
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}
