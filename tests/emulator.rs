//! The Lambda's handler with the real DynamoDB and SES v2 adapters, talking over HTTP to a
//! moto server on loopback.
//!
//! Run with `bash scripts/test.sh`, which starts moto and sets `RESET_MAILER_TEST_ENDPOINT`.
//! Without that variable these tests are skipped, or fail when `CI` is set.

#[path = "common/emulator.rs"]
mod emulator;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use serde_json::{json, Value};

use emulator::{
    identities_with_email, now, number, profile_item, servop, string, unverified_sender, Item, Sandbox, APP_NAME,
    RESET_URL_BASE,
};
use reset_mailer::aws::DynamoTokens;
use reset_mailer::domain::{token_digest, ProfileId, ResetToken};
use reset_mailer::ports::{BeginOutcome, DeliveryRecord, Ledger, SendHistory, SendPlan, TokenRecord, TokenStore};
use reset_mailer::telemetry;
use reset_mailer::trigger::handle_event;

fn success() -> Value {
    json!({ "status": 200, "data": null })
}

fn unique_profile_id() -> String {
    format!("profile-{}", uuid::Uuid::new_v4())
}

async fn handle(sandbox: &Sandbox, event: Value) -> Value {
    handle_event(&sandbox.app(), event).await.expect("no retryable failure")
}

#[tokio::test]
async fn direct_servop_stores_token_and_sends() {
    let Some(sandbox) = Sandbox::start().await else { return };
    let profile_id = unique_profile_id();
    sandbox.put_profile_with_email(&profile_id).await;

    let before = now();
    let response = handle(&sandbox, servop(&profile_id, 90)).await;
    let after = now();

    assert_eq!(response, success());

    let ttl = sandbox
        .dynamodb
        .describe_time_to_live()
        .table_name(&sandbox.tables.tokens)
        .send()
        .await
        .expect("DescribeTimeToLive")
        .time_to_live_description
        .expect("TTL description");
    assert_eq!(ttl.time_to_live_status, Some(TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name.as_deref(), Some("expiresAt"));

    let item = sandbox.token_item(&profile_id).await.expect("token item");
    let mut attributes: Vec<&str> = item.keys().map(String::as_str).collect();
    attributes.sort_unstable();
    assert_eq!(attributes, ["createdAt", "expiresAt", "profileId", "tokenHash"]);
    let created_at = number(&item, "createdAt");
    let expires_at = number(&item, "expiresAt");
    assert!((before..=after).contains(&created_at), "createdAt {created_at} not in {before}..={after}");
    assert_eq!(expires_at - created_at, 90 * 60);
    assert!((before + 5400..=after + 5400).contains(&expires_at), "expiresAt {expires_at}");

    let mail = sandbox.sent_mail();
    assert_eq!(mail.len(), 1, "{mail:?}");
    let email = &mail[0];
    assert_eq!(email.source, sandbox.sender);
    assert_eq!(email.to, std::slice::from_ref(&sandbox.recipient));
    assert_eq!(email.subject, format!("Reset your {APP_NAME} password"));
    assert!(email.link().as_str().starts_with(&format!("{RESET_URL_BASE}&token=")), "{}", email.link());
    assert_eq!(string(&item, "tokenHash"), token_digest(&email.token()));
    let expiry = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(expires_at));
    assert!(email.body.contains(&format!("expires in 1 hour 30 minutes (at {expiry})")), "{}", email.body);
}

#[tokio::test]
async fn second_request_replaces_token() {
    let Some(sandbox) = Sandbox::start().await else { return };
    let profile_id = unique_profile_id();
    sandbox.put_profile_with_email(&profile_id).await;

    // No resend interval, so the second request is not rate limited.
    let mut app = sandbox.app();
    app.settings.resend_interval_seconds = 0;

    let first = handle_event(&app, servop(&profile_id, 60)).await.expect("first");
    let second = handle_event(&app, servop(&profile_id, 60)).await.expect("second");

    assert_eq!(first, success());
    assert_eq!(second, success());
    let mail = sandbox.sent_mail();
    assert_eq!(mail.len(), 2, "{mail:?}");
    let old_hash = token_digest(&mail[0].token());
    let new_hash = token_digest(&mail[1].token());
    assert_ne!(old_hash, new_hash);
    let items = sandbox.token_items().await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(string(&items[0], "profileId"), profile_id);
    assert_eq!(string(&items[0], "tokenHash"), new_hash);
}

#[tokio::test]
async fn profile_problems_write_and_send_nothing() {
    let Some(sandbox) = Sandbox::start().await else { return };
    let email = |value: AttributeValue| Some(identities_with_email(value));
    let other_identity = Item::from([("Anonymous".to_owned(), AttributeValue::S("anonymous-id".to_owned()))]);
    let list = AttributeValue::L(vec![AttributeValue::S(sandbox.recipient.clone())]);
    let with_name = AttributeValue::S(format!("Ann <{}>", sandbox.recipient));
    // Each case: profile id, stored profile (`None`: no item, `Some(None)`: no `identities`),
    // expected status and reason code.
    let cases = [
        ("not-found", None, 404, 40446),
        ("no-identities", Some(None), 400, 40206),
        ("no-email", Some(Some(other_identity)), 400, 40206),
        ("email-null", Some(email(AttributeValue::Null(true))), 400, 40206),
        ("email-list", Some(email(list)), 400, 40221),
        ("email-with-name", Some(email(with_name)), 400, 40221),
    ];

    for (profile_id, identities, status, reason_code) in cases {
        if let Some(identities) = identities {
            sandbox.put_profile(profile_item(profile_id, identities)).await;
        }

        let response = handle(&sandbox, servop(profile_id, 60)).await;

        assert_eq!(response["status"], status, "{profile_id}: {response}");
        assert_eq!(response["reason_code"], reason_code, "{profile_id}: {response}");
        assert!(sandbox.token_item(profile_id).await.is_none(), "{profile_id}: token stored");
    }
    assert!(sandbox.token_items().await.is_empty());
    assert!(sandbox.sent_mail().is_empty(), "{:?}", sandbox.sent_mail());
}

#[tokio::test]
async fn rejected_send_leaves_no_token() {
    let Some(sandbox) = Sandbox::start().await else { return };
    let profile_id = unique_profile_id();
    sandbox.put_profile_with_email(&profile_id).await;
    let sender = unverified_sender();
    let app = sandbox.app_sending_from(&sender);

    let response = handle_event(&app, servop(&profile_id, 60)).await.expect("no retryable failure");

    assert_eq!(response["status"], 500, "{response}");
    assert_eq!(response["reason_code"], 40361, "{response}");
    assert!(sandbox.token_item(&profile_id).await.is_none(), "the unsent token is still stored");
    assert!(sandbox.sent_mail_from(&sender).is_empty());
}

#[tokio::test]
async fn missing_table_is_database_error() {
    for missing in ["profiles", "tokens"] {
        let Some(sandbox) = Sandbox::start().await else { return };
        let profile_id = unique_profile_id();
        sandbox.put_profile_with_email(&profile_id).await;
        let table = if missing == "profiles" { &sandbox.tables.profiles } else { &sandbox.tables.tokens };
        sandbox.dynamodb.delete_table().table_name(table).send().await.expect("DeleteTable");

        let response = handle(&sandbox, servop(&profile_id, 60)).await;

        assert_eq!(response["status"], 500, "{missing}: {response}");
        assert_eq!(response["reason_code"], 40215, "{missing}: {response}");
        assert!(sandbox.sent_mail().is_empty(), "{missing}: mail sent");
    }
}

#[tokio::test]
async fn ledger_transitions() {
    let Some(sandbox) = Sandbox::start().await else { return };
    let store =
        DynamoTokens::new(sandbox.dynamodb.clone(), sandbox.tables.tokens.clone(), sandbox.tables.requests.clone());
    let profile_id = ProfileId::parse(&unique_profile_id()).expect("profile id");
    let plan = |hash: &str, key: Option<&str>, before: SendHistory, sends: Vec<u64>| SendPlan {
        token: TokenRecord {
            profile_id: profile_id.clone(),
            token_hash: hash.to_owned(),
            created_at: 1_000,
            expires_at: 4_600,
        },
        delivery_key: key.map(str::to_owned),
        replaces_attempt: None,
        locked_until: 1_060,
        history_after: SendHistory { sends, version: before.version + 1 },
        history_before: before,
    };
    let (first, second, third) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));

    let empty = store.load(Some("k-1"), &profile_id).await.expect("load");
    let plan_a = plan(&first, Some("k-1"), empty.history.clone(), vec![1_000]);
    let started = store.begin_send(&plan_a).await.expect("begin");
    let stale = store.begin_send(&plan_a).await.expect("begin again");
    let during = store.load(Some("k-1"), &profile_id).await.expect("load");
    store.abort_send(&plan_a).await.expect("abort");
    let after_abort = store.load(Some("k-1"), &profile_id).await.expect("load");
    let token_after_abort = sandbox.token_item(profile_id.as_str()).await;

    assert_eq!(empty, Ledger::default());
    assert_eq!(started, BeginOutcome::Started);
    assert_eq!(stale, BeginOutcome::Conflict);
    assert_eq!(
        during.delivery,
        Some(DeliveryRecord::Sending {
            profile_id: profile_id.to_string(),
            token_hash: first.clone(),
            locked_until: 1_060
        })
    );
    assert_eq!(during.history, SendHistory { sends: vec![1_000], version: 1 });
    assert_eq!(after_abort.delivery, None);
    assert_eq!(after_abort.history, SendHistory { sends: vec![], version: 2 });
    assert!(token_after_abort.is_none());

    let plan_b = plan(&second, Some("k-1"), after_abort.history.clone(), vec![1_100]);
    assert_eq!(store.begin_send(&plan_b).await.expect("begin b"), BeginOutcome::Started);
    store.complete("k-1", &profile_id, r#"{"status":200,"data":null}"#, 90_000).await.expect("complete");
    let completed = store.load(Some("k-1"), &profile_id).await.expect("load");
    let plan_c = plan(&third, None, completed.history.clone(), vec![1_100, 1_200]);
    assert_eq!(store.begin_send(&plan_c).await.expect("begin c"), BeginOutcome::Started);
    store.abort_send(&plan_b).await.expect("abort b after c");
    let kept = sandbox.token_item(profile_id.as_str()).await.expect("the newer token was deleted");
    let history = store.load(None, &profile_id).await.expect("load").history;

    assert_eq!(
        completed.delivery,
        Some(DeliveryRecord::Completed {
            profile_id: profile_id.to_string(),
            response: r#"{"status":200,"data":null}"#.into()
        })
    );
    assert_eq!(string(&kept, "tokenHash"), third);
    assert_eq!(number(&kept, "expiresAt"), 4_600);
    assert_eq!(history, SendHistory { sends: vec![1_100, 1_200], version: 4 });
}

/// Runs one sample event from `events/` (profile `demo-profile-1`) and checks the stored
/// token against the email. Returns the function result.
async fn run_sample(file: &str, ttl_minutes: u64) -> Option<Value> {
    let sandbox = Sandbox::start().await?;
    sandbox.put_profile_with_email("demo-profile-1").await;
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("sample event")).expect("JSON");

    let response = handle(&sandbox, event).await;

    let mail = sandbox.sent_mail();
    assert_eq!(mail.len(), 1, "{file}: {mail:?}");
    assert_eq!(mail[0].to, std::slice::from_ref(&sandbox.recipient), "{file}");
    let item = sandbox.token_item("demo-profile-1").await.expect("token item");
    assert_eq!(string(&item, "tokenHash"), token_digest(&mail[0].token()), "{file}");
    assert_eq!(number(&item, "expiresAt") - number(&item, "createdAt"), ttl_minutes * 60, "{file}");
    Some(response)
}

async fn check_http_sample(file: &str) {
    let Some(response) = run_sample(file, 1440).await else {
        return;
    };

    assert_eq!(response["statusCode"], 200, "{file}: {response}");
    let body: Value = serde_json::from_str(response["body"].as_str().expect("string body")).expect("JSON body");
    assert_eq!(body, success(), "{file}");
}

async fn check_servop_sample(file: &str, ttl_minutes: u64) {
    let Some(response) = run_sample(file, ttl_minutes).await else {
        return;
    };

    assert_eq!(response, success(), "{file}");
}

#[tokio::test]
async fn trigger_rest_v1() {
    check_http_sample("rest-v1.json").await;
}

#[tokio::test]
async fn trigger_http_v2() {
    check_http_sample("http-v2.json").await;
}

#[tokio::test]
async fn trigger_function_url() {
    check_http_sample("function-url.json").await;
}

#[tokio::test]
async fn trigger_alb() {
    check_http_sample("alb.json").await;
}

#[tokio::test]
async fn trigger_eventbridge_servop() {
    check_servop_sample("eventbridge.json", 1440).await;
}

#[tokio::test]
async fn trigger_eventbridge_data() {
    check_servop_sample("eventbridge-data.json", 60).await;
}

#[tokio::test]
async fn trigger_direct() {
    check_servop_sample("direct.json", 1440).await;
}

/// An in-memory log sink for the subscriber under test.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Values that must never reach the log, with a label for failure messages.
struct Secrets {
    profile_ids: Vec<String>,
    forbidden: Vec<(&'static str, String)>,
}

/// Runs one successful and one rejected request through the real adapters and returns the
/// values that must stay out of the log.
async fn run_logged_requests() -> Option<Secrets> {
    let sandbox = Sandbox::start().await?;
    let sent_id = unique_profile_id();
    let rejected_id = unique_profile_id();
    let rejected_recipient = format!("rejected-{}@example.com", uuid::Uuid::new_v4().simple());
    sandbox.put_profile_with_email(&sent_id).await;
    let rejected_identities = identities_with_email(AttributeValue::S(rejected_recipient.clone()));
    sandbox.put_profile(profile_item(&rejected_id, Some(rejected_identities))).await;

    let mut sent_app = sandbox.app();
    sent_app.secrets = Arc::new(|| [7; 32]);
    let mut rejected_app = sandbox.app_sending_from(&unverified_sender());
    rejected_app.secrets = Arc::new(|| [9; 32]);

    let sent = handle_event(&sent_app, servop(&sent_id, 60)).await.expect("no retryable failure");
    let rejected = handle_event(&rejected_app, servop(&rejected_id, 60)).await.expect("no retryable failure");

    assert_eq!(sent, success());
    assert_eq!(rejected["reason_code"], 40361, "{rejected}");
    let sent_token = ResetToken::new(&ProfileId::parse(&sent_id).expect("id"), [7; 32]);
    let rejected_token = ResetToken::new(&ProfileId::parse(&rejected_id).expect("id"), [9; 32]);
    let mail = sandbox.sent_mail();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].token(), sent_token.expose(), "the injected secret was not used");

    let secret_part = |token: &ResetToken| token.expose().split_once('.').expect("two parts").1.to_owned();
    Some(Secrets {
        profile_ids: vec![sent_id, rejected_id],
        forbidden: vec![
            ("recipient", sandbox.recipient.clone()),
            ("recipient (lowercase)", sandbox.recipient.to_lowercase()),
            ("recipient of the rejected request", rejected_recipient),
            ("token", sent_token.expose().to_owned()),
            ("token secret", secret_part(&sent_token)),
            ("link", mail[0].link().to_string()),
            ("unsent token", rejected_token.expose().to_owned()),
            ("unsent token secret", secret_part(&rejected_token)),
        ],
    })
}

#[tokio::test]
async fn logs_hide_personal_data() {
    let buffer = LogBuffer::default();
    let sink = buffer.clone();
    // A global subscriber, as `telemetry::init` installs one in Lambda, so the SDK's spans and
    // events on every thread reach it. A thread's default (`set_default`) is not enough while
    // other tests run: with a single subscriber registered, tracing-core 0.1 caches the
    // interest of a callsite first hit on another thread as "never", and this test then
    // misses those events. The buffer therefore also contains the other tests' lines.
    let subscriber = telemetry::subscriber(Some("trace"), false, move || sink.clone());
    tracing::subscriber::set_global_default(subscriber).expect("only this test installs a global subscriber");

    let Some(secrets) = run_logged_requests().await else {
        return;
    };

    let log = String::from_utf8_lossy(&buffer.0.lock().expect("log buffer")).into_owned();
    assert!(!log.is_empty());
    for profile_id in &secrets.profile_ids {
        assert!(log.contains(profile_id.as_str()), "profile id {profile_id} missing from the log:\n{log}");
    }
    assert!(log.contains("password reset email sent"), "no success line:\n{log}");
    assert!(log.contains("40361"), "no line for the rejected send:\n{log}");
    for (label, value) in &secrets.forbidden {
        let leaks: Vec<&str> = log.lines().filter(|line| line.contains(value.as_str())).collect();
        assert!(leaks.is_empty(), "the log contains the {label}:\n{}", leaks.join("\n"));
    }
    // Every sandbox recipient starts with "Reset.User+": no test's address may appear either.
    let leaks: Vec<&str> = log.lines().filter(|line| line.to_lowercase().contains("reset.user+")).collect();
    assert!(leaks.is_empty(), "the log contains a recipient address:\n{}", leaks.join("\n"));
}
