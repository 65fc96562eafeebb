//! Retries, duplicates, floods and faults: each test shows one delivery guarantee over the
//! local adapters, with faults injected on command.

mod common;

use futures::future::join_all;
use serde_json::{json, Value};

use common::{eventbridge_event, http_event, http_result, servop, test_app, HttpShape, TestApp};
use reset_mailer::error::BackendError;

fn direct(profile_id: &str) -> Value {
    serde_json::from_str(&servop(profile_id, 60)).expect("servop")
}

fn with_key(profile_id: &str, key: &str) -> Value {
    json!({
        "service": "user",
        "operation": "SYS_SEND_PASSWORD_RESET_EMAIL_WITH_EXPIRY",
        "data": {"profileId": profile_id, "tokenTtlInMinutes": 60, "idempotencyKey": key}
    })
}

fn success() -> Value {
    json!({"status": 200, "data": null})
}

/// The servop body of any function result: HTTP responses are unwrapped.
fn body_of(result: &Value) -> Value {
    if result.get("statusCode").is_some() {
        http_result(result).1
    } else {
        result.clone()
    }
}

/// Computes the digest of the token in the email's link, as the store keeps it.
fn digest_of_link(text: &str) -> String {
    let start = text.find("token=").expect("link with a token") + "token=".len();
    let token: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    reset_mailer::domain::token_digest(&token)
}

fn assert_one_send(app: &TestApp, label: &str) {
    assert_eq!(app.outbox.sent().len(), 1, "{label}: emails");
    assert_eq!(app.tokens.snapshot().len(), 1, "{label}: token items");
}

#[tokio::test]
async fn repeated_delivery_sends_once() {
    let mut keyed_http = http_event(HttpShape::HttpV2, &servop("demo-profile-1", 60));
    keyed_http["headers"]["Idempotency-Key"] = json!("signup-42");
    keyed_http["requestContext"]["requestId"] = json!("changes-on-every-retry");
    let deliveries: Vec<(&str, Value)> = vec![
        ("EventBridge id", eventbridge_event(json!({"profileId": "demo-profile-1", "tokenTtlInMinutes": 60}))),
        ("API Gateway request id", http_event(HttpShape::RestV1, &servop("demo-profile-1", 60))),
        ("Idempotency-Key header", keyed_http),
        ("idempotencyKey field", with_key("demo-profile-1", "order-7")),
    ];

    for (label, event) in deliveries {
        for count in [2, 10] {
            let app = test_app();
            let mut results = Vec::new();

            for attempt in 0..count {
                let mut event = event.clone();
                if label == "Idempotency-Key header" {
                    event["requestContext"]["requestId"] = json!(format!("retry-{attempt}"));
                }
                results.push(app.invoke(event).await.expect("no invocation error"));
                app.advance(1);
            }

            assert_one_send(&app, label);
            for result in &results {
                assert_eq!(body_of(result), success(), "{label} x{count}: {result}");
            }
        }
    }
}

#[tokio::test]
async fn direct_invoke_retry_uses_lambda_request_id() {
    let app = test_app();

    let first = reset_mailer::trigger::handle_invocation(&app.app, direct("demo-profile-1"), Some("req-1")).await;
    let retry = reset_mailer::trigger::handle_invocation(&app.app, direct("demo-profile-1"), Some("req-1")).await;

    assert_eq!(first.expect("first"), success());
    assert_eq!(retry.expect("retry"), success());
    assert_one_send(&app, "direct retry");
}

#[tokio::test]
async fn concurrent_duplicates_send_once() {
    for count in [2, 10] {
        let app = test_app();
        let event = eventbridge_event(json!({"profileId": "demo-profile-1", "tokenTtlInMinutes": 60}));

        let results = join_all((0..count).map(|_| app.invoke(event.clone()))).await;

        assert_one_send(&app, "concurrent EventBridge");
        let succeeded = results.iter().filter(|result| matches!(result, Ok(body) if *body == success())).count();
        let in_progress =
            results.iter().filter(|result| matches!(result, Err(failure) if failure.reason_code == 40823)).count();
        assert!(succeeded >= 1, "{results:?}");
        assert!(in_progress >= 1, "the deliveries did not overlap: {results:?}");
        assert_eq!(succeeded + in_progress, count, "{results:?}");
    }
}

#[tokio::test]
async fn concurrent_keys_for_one_profile_send_once() {
    let app = test_app();
    let events: Vec<Value> = (0..8).map(|i| with_key("demo-profile-1", &format!("key-{i}"))).collect();

    let results = join_all(events.into_iter().map(|event| app.invoke(event))).await;

    assert_one_send(&app, "concurrent keys");
    let limited = results.iter().filter(|result| result.as_ref().is_ok_and(|body| body["status"] == 429)).count();
    assert_eq!(limited, 7, "{results:?}");
}

#[tokio::test]
async fn in_progress_duplicate_waits() {
    let app = test_app();
    // The record of the first delivery stays "sending", as after a crash during the send.
    app.complete_fault.set(BackendError::retryable("PutItem", "timed out"));
    let event = with_key("demo-profile-1", "k-1");
    app.invoke(event.clone()).await.expect("first");
    app.complete_fault.clear();

    let duplicate = app.invoke(event.clone()).await.expect("duplicate");
    let as_eventbridge = app.invoke(eventbridge_event(event["data"].clone())).await;
    app.advance(61);
    let after_lock = app.invoke(event.clone()).await.expect("after lock");
    let replay = app.invoke(event).await.expect("replay");

    assert_eq!(duplicate["status"], 409, "{duplicate}");
    assert_eq!(duplicate["reason_code"], 40823);
    assert_eq!(duplicate["retryAfterSeconds"], 60);
    assert!(as_eventbridge.is_err(), "an in-progress duplicate on EventBridge must be retried later");
    assert_eq!(after_lock, success());
    assert_eq!(replay, success());
    assert_one_send(&app, "stale record");
}

#[tokio::test]
async fn key_reused_for_other_profile() {
    let app = test_app();
    app.invoke(with_key("demo-profile-1", "shared")).await.expect("first");

    let other = app.invoke(with_key("case-profile-1", "shared")).await.expect("second");

    assert_eq!(other["reason_code"], 40660, "{other}");
    assert_one_send(&app, "reused key");
}

#[tokio::test]
async fn resend_interval_limits() {
    let app = test_app();
    app.invoke(direct("demo-profile-1")).await.expect("first");
    let token_before = app.tokens.snapshot();
    app.advance(30);

    let limited = app.invoke(http_event(HttpShape::RestV1, &servop("demo-profile-1", 60))).await.expect("second");

    let (status, body) = http_result(&limited);
    assert_eq!(status, 429);
    assert_eq!(body["reason_code"], 40823);
    assert_eq!(body["retryAfterSeconds"], 30);
    assert_eq!(limited["headers"]["Retry-After"], "30");
    assert_eq!(app.tokens.snapshot(), token_before, "a limited request changed the token");
    assert_eq!(app.outbox.sent().len(), 1);

    app.advance(30);
    assert_eq!(app.invoke(direct("demo-profile-1")).await.expect("third"), success());
    assert_eq!(app.outbox.sent().len(), 2);
}

#[tokio::test]
async fn hourly_maximum_limits() {
    let app = test_app();
    for _ in 0..5 {
        assert_eq!(app.invoke(direct("demo-profile-1")).await.expect("send"), success());
        app.advance(61);
    }

    let sixth = app.invoke(direct("demo-profile-1")).await.expect("sixth");

    assert_eq!(sixth["status"], 429);
    assert_eq!(sixth["retryAfterSeconds"], 3600 - 5 * 61);
    assert_eq!(app.outbox.sent().len(), 5);
    app.advance(3600 - 5 * 61);
    assert_eq!(app.invoke(direct("demo-profile-1")).await.expect("later"), success());
}

#[tokio::test]
async fn limits_are_per_profile() {
    let app = test_app();

    let first = app.invoke(direct("demo-profile-1")).await.expect("first");
    let other = app.invoke(direct("case-profile-1")).await.expect("other profile");

    assert_eq!(first, success());
    assert_eq!(other, success());
    assert_eq!(app.outbox.sent().len(), 2);
}

/// Where a fault strikes, and the end state it must leave.
struct FaultCase {
    name: &'static str,
    arm: fn(&TestApp),
    /// `true`: one email and one usable token; `false`: neither.
    sent: bool,
}

#[tokio::test]
async fn faults_leave_whole_states() {
    let cases = [
        FaultCase {
            name: "profile read",
            arm: |app| app.profile_fault.set(BackendError::retryable("GetItem", "500")),
            sent: false,
        },
        FaultCase {
            name: "ledger read",
            arm: |app| app.load_fault.set(BackendError::retryable("GetItem", "timed out")),
            sent: false,
        },
        FaultCase {
            name: "token write",
            arm: |app| app.token_fault.set(BackendError::retryable("TransactWriteItems", "500")),
            sent: false,
        },
        FaultCase {
            name: "send rejected",
            arm: |app| app.mail_fault.set(BackendError::permanent("SendEmail", "MessageRejected")),
            sent: false,
        },
        FaultCase {
            name: "send throttled",
            arm: |app| app.mail_fault.set(BackendError::retryable("SendEmail", "TooManyRequestsException")),
            sent: false,
        },
        FaultCase {
            name: "write after send",
            arm: |app| app.complete_fault.set(BackendError::retryable("PutItem", "timed out")),
            sent: true,
        },
    ];
    for case in cases {
        let app = test_app();
        (case.arm)(&app);
        let event = with_key("demo-profile-1", "fault-1");

        let result = app.invoke(event.clone()).await.expect("direct results are responses");

        let emails = app.outbox.sent();
        let tokens = app.tokens.snapshot();
        if case.sent {
            assert_eq!(result, success(), "{}", case.name);
            assert_eq!((emails.len(), tokens.len()), (1, 1), "{}", case.name);
            assert_eq!(digest_of_link(&emails[0].text), tokens[0].token_hash, "{}", case.name);
        } else {
            assert!(result["status"].as_u64().is_some_and(|status| status >= 500), "{}: {result}", case.name);
            assert_eq!((emails.len(), tokens.len()), (0, 0), "{}", case.name);
            assert_eq!(app.tokens.history("demo-profile-1").sends, Vec::<u64>::new(), "{}: history kept", case.name);
            assert_eq!(app.tokens.delivery("key#fault-1"), None, "{}: delivery record kept", case.name);
        }

        // A retry after the fault clears ends with exactly one email.
        for fault in [&app.profile_fault, &app.load_fault, &app.token_fault, &app.mail_fault, &app.complete_fault] {
            fault.clear();
        }
        app.advance(61);
        assert_eq!(app.invoke(event).await.expect("retry"), success(), "{}: retry", case.name);
        assert_one_send(&app, case.name);
    }
}

#[tokio::test]
async fn uncertain_send_counts_as_sent() {
    let app = test_app();
    app.mail_fault.set(BackendError::outcome_unknown("SendEmail", "timed out"));
    let event = with_key("demo-profile-1", "maybe-sent");

    let result = app.invoke(event.clone()).await.expect("response");
    app.mail_fault.clear();
    let retry = app.invoke(event).await.expect("retry");

    assert_eq!(result, success());
    assert_eq!(retry, success());
    assert!(app.outbox.sent().is_empty(), "the fault stood in for SES, so nothing reached the outbox");
    assert_eq!(app.tokens.snapshot().len(), 1, "the token of a possibly sent email must stay usable");
}

#[tokio::test]
async fn failed_undo_keeps_unsent_token() {
    let app = test_app();
    app.mail_fault.set(BackendError::permanent("SendEmail", "MessageRejected"));
    app.abort_fault.set(BackendError::retryable("DeleteItem", "timed out"));

    let result = app.invoke(direct("demo-profile-1")).await.expect("response");

    assert_eq!(result["reason_code"], 40361);
    assert!(app.outbox.sent().is_empty());
    // NOTE: both writes failed, so the token stays until it expires; no email carries it.
    assert_eq!(app.tokens.snapshot().len(), 1);
}
