//! Every row of the error table on every trigger shape, over local adapters with faults
//! injected on command. Each failing case must change nothing: no token, no email.

mod common;

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

use common::{
    eventbridge_event, http_event, http_result, servop, test_app, HttpShape, TestApp, HTTP_SHAPES, NOW, SECRET,
};
use reset_mailer::domain::{ProfileId, ResetToken};
use reset_mailer::error::BackendError;

const OP: &str = "SYS_SEND_PASSWORD_RESET_EMAIL_WITH_EXPIRY";

/// How a case is set up: a servop body, or a fault in one dependency.
enum Setup {
    Body(String),
    ProfileFault(BackendError),
    TokenFault(BackendError),
    MailFault(BackendError),
}

struct Case {
    name: &'static str,
    setup: Setup,
    status: u64,
    reason_code: u64,
}

fn body(name: &'static str, text: &str, status: u64, reason_code: u64) -> Case {
    Case { name, setup: Setup::Body(text.to_owned()), status, reason_code }
}

fn data(profile_id: Value, ttl: Value) -> String {
    json!({"service": "user", "operation": OP, "data": {"profileId": profile_id, "tokenTtlInMinutes": ttl}}).to_string()
}

fn error_table() -> Vec<Case> {
    let fault = |name, setup, status, reason_code| Case { name, setup, status, reason_code };
    vec![
        body("invalid json", r#"{"service": "user", "operation": "#, 400, 40408),
        body("empty body", "", 400, 40408),
        body(
            "unknown operation",
            &json!({"service": "user", "operation": "SYS_RESET", "data": {}}).to_string(),
            400,
            40333,
        ),
        body("unknown service", &json!({"service": "friend", "operation": OP, "data": {}}).to_string(), 400, 40333),
        body("missing operation", &json!({"service": "user", "data": {}}).to_string(), 400, 40333),
        body("missing data", &json!({"service": "user", "operation": OP}).to_string(), 400, 40358),
        body(
            "missing profileId",
            &json!({"service": "user", "operation": OP, "data": {"tokenTtlInMinutes": 60}}).to_string(),
            400,
            40358,
        ),
        body("null profileId", &data(Value::Null, json!(60)), 400, 40358),
        body(
            "missing ttl",
            &json!({"service": "user", "operation": OP, "data": {"profileId": "demo-profile-1"}}).to_string(),
            400,
            40358,
        ),
        body("null ttl", &data(json!("demo-profile-1"), Value::Null), 400, 40358),
        body("string ttl", &data(json!("demo-profile-1"), json!("60")), 400, 40359),
        body("fractional ttl", &data(json!("demo-profile-1"), json!(1.5)), 400, 40359),
        body("array profileId", &data(json!(["demo-profile-1"]), json!(60)), 400, 40359),
        body("number profileId", &data(json!(7), json!(60)), 400, 40359),
        body("zero ttl", &data(json!("demo-profile-1"), json!(0)), 400, 40660),
        body("negative ttl", &data(json!("demo-profile-1"), json!(-1)), 400, 40660),
        body("ttl above max", &data(json!("demo-profile-1"), json!(10081)), 400, 40660),
        body("empty profileId", &data(json!(""), json!(60)), 400, 40660),
        body("long profileId", &data(json!("p".repeat(129)), json!(60)), 400, 40660),
        body("control char profileId", &data(json!("demo-profile-1\u{7}"), json!(60)), 400, 40660),
        body("unknown profile", &servop("no-such-profile", 60), 404, 40446),
        body("no email identity", &servop("demo-no-email", 60), 400, 40206),
        body("invalid stored email", &servop("demo-bad-email", 60), 400, 40221),
        fault(
            "ses rejects",
            Setup::MailFault(BackendError::permanent("SendEmail", "MessageRejected (HTTP 400)")),
            500,
            40361,
        ),
        fault(
            "ses throttles",
            Setup::MailFault(BackendError::retryable("SendEmail", "TooManyRequestsException (HTTP 429)")),
            503,
            40361,
        ),
        fault(
            "profile read fails",
            Setup::ProfileFault(BackendError::permanent("GetItem", "ResourceNotFoundException (HTTP 400)")),
            500,
            40215,
        ),
        fault(
            "profile read throttled",
            Setup::ProfileFault(BackendError::retryable("GetItem", "ThrottlingException (HTTP 400)")),
            503,
            40215,
        ),
        fault(
            "token write fails",
            Setup::TokenFault(BackendError::permanent("PutItem", "ValidationException (HTTP 400)")),
            500,
            40215,
        ),
        fault("token write times out", Setup::TokenFault(BackendError::retryable("PutItem", "timed out")), 503, 40215),
    ]
}

/// Prepares an app for `case` and returns it with the servop body to send.
fn arrange(case: &Case) -> (TestApp, String) {
    let app = test_app();
    let valid = servop("demo-profile-1", 60);
    let text = match &case.setup {
        Setup::Body(text) => text.clone(),
        Setup::ProfileFault(error) => {
            app.profile_fault.set(error.clone());
            valid
        }
        Setup::TokenFault(error) => {
            app.token_fault.set(error.clone());
            valid
        }
        Setup::MailFault(error) => {
            app.mail_fault.set(error.clone());
            valid
        }
    };
    (app, text)
}

fn assert_error_body(body: &Value, case: &Case, shape: &str) {
    let label = format!("{} via {shape}", case.name);
    assert_eq!(body["status"], case.status, "{label}: {body}");
    assert_eq!(body["reason_code"], case.reason_code, "{label}: {body}");
    assert_eq!(body["severity"], "ERROR", "{label}");
    assert!(body["status_message"].as_str().is_some_and(|m| !m.is_empty()), "{label}: no status_message");
}

#[tokio::test]
async fn error_table_over_http() {
    for case in error_table() {
        for shape in HTTP_SHAPES {
            let (app, text) = arrange(&case);

            let result = app.invoke(http_event(shape, &text)).await.expect("HTTP results are never invocation errors");

            let (status, body) = http_result(&result);
            assert_eq!(status, case.status, "{} via {shape:?}", case.name);
            assert_error_body(&body, &case, &format!("{shape:?}"));
            assert!(app.untouched(), "{} via {shape:?} left a token or an email", case.name);
        }
    }
}

#[tokio::test]
async fn error_table_direct() {
    for case in error_table() {
        let (app, text) = arrange(&case);
        // A direct invoke always carries JSON; Lambda itself rejects anything else.
        let Ok(event) = serde_json::from_str::<Value>(&text) else {
            continue;
        };

        let body = app.invoke(event).await.expect("direct results are never invocation errors");

        assert_error_body(&body, &case, "direct");
        assert!(app.untouched(), "{} via direct left a token or an email", case.name);
    }
}

#[tokio::test]
async fn error_table_eventbridge() {
    for case in error_table() {
        let (app, text) = arrange(&case);
        let Ok(detail) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let retryable = case.status == 503;

        let result = app.invoke(eventbridge_event(detail.clone())).await;

        match result {
            Err(failure) => {
                assert!(retryable, "{}: permanent failure became an invocation error", case.name);
                assert_eq!(u64::from(failure.reason_code), case.reason_code, "{}", case.name);
            }
            Ok(body) => {
                assert!(!retryable, "{}: retryable failure was not an invocation error", case.name);
                assert_error_body(&body, &case, "EventBridge");
            }
        }
        assert!(app.untouched(), "{} via EventBridge left a token or an email", case.name);

        // The same case with only the data object as detail, where there is one.
        let envelope_case = case.reason_code == 40333;
        if let Some(data) = detail.get("data").filter(|data| data.is_object() && !envelope_case) {
            let (app, _) = arrange(&case);
            let result = app.invoke(eventbridge_event(data.clone())).await;
            assert_eq!(result.is_err(), retryable, "{} via EventBridge data", case.name);
            if let Ok(body) = result {
                assert_error_body(&body, &case, "EventBridge data");
            }
            assert!(app.untouched(), "{} via EventBridge data left a token or an email", case.name);
        }
    }
}

#[tokio::test]
async fn success_on_every_shape() {
    let text = servop("demo-profile-1", 1440);
    let mut events: Vec<(String, Value)> =
        HTTP_SHAPES.iter().map(|shape| (format!("{shape:?}"), http_event(*shape, &text))).collect();
    events.push(("direct".into(), serde_json::from_str(&text).expect("servop")));
    events.push(("EventBridge".into(), eventbridge_event(serde_json::from_str(&text).expect("servop"))));
    events.push((
        "EventBridge data".into(),
        eventbridge_event(json!({"profileId": "demo-profile-1", "tokenTtlInMinutes": 1440})),
    ));

    for (shape, event) in events {
        let app = test_app();

        let result = app.invoke(event).await.expect("success");

        let body = if result.get("statusCode").is_some() {
            let (status, body) = http_result(&result);
            assert_eq!(status, 200, "{shape}");
            body
        } else {
            result
        };
        assert_eq!(body, json!({"status": 200, "data": null}), "{shape}");
        assert_eq!(app.outbox.sent().len(), 1, "{shape}");
        assert_eq!(app.tokens.snapshot().len(), 1, "{shape}");
    }
}

#[tokio::test]
async fn stored_token_matches_link() {
    let app = test_app();

    app.invoke(serde_json::from_str(&servop("demo-profile-1", 1440)).expect("servop")).await.expect("success");

    let expected = ResetToken::new(&ProfileId::parse("demo-profile-1").expect("id"), SECRET);
    let [record] = app.tokens.snapshot().try_into().expect("one token item");
    let [email] = app.outbox.sent().try_into().expect("one email");
    assert_eq!(record.token_hash, expected.digest());
    assert_eq!(record.created_at, NOW);
    assert_eq!(record.expires_at, NOW + 1440 * 60);
    assert_eq!(email.to.as_str(), "demo.user@example.com");
    let link = format!("https://example.com/reset-password?token={}", expected.expose());
    assert!(email.text.contains(&link));
    assert!(email.text.contains("expires in 24 hours (at Sat, 05 Dec 2026 10:00:00 GMT)"));
    assert!(email.html.contains("expires in 24 hours (at Sat, 05 Dec 2026 10:00:00 GMT)"));
    let id_part = expected.expose().split('.').next().expect("id part");
    assert_eq!(URL_SAFE_NO_PAD.decode(id_part).expect("base64url"), b"demo-profile-1");
}

#[tokio::test]
async fn new_token_replaces_old() {
    let app = test_app();
    let event: Value = serde_json::from_str(&servop("demo-profile-1", 60)).expect("servop");
    app.invoke(event.clone()).await.expect("first");
    let first = app.tokens.snapshot();

    let mut app2 = app;
    app2.app.secrets = std::sync::Arc::new(|| [7; 32]);
    app2.app.settings.resend_interval_seconds = 0;
    app2.invoke(event).await.expect("second");

    let second = app2.tokens.snapshot();
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].token_hash, first[0].token_hash);
    assert_eq!(app2.outbox.sent().len(), 2);
}

#[tokio::test]
async fn http_quirks_table() {
    let valid = servop("demo-profile-1", 60);
    let with = |shape, edit: &dyn Fn(&mut Value)| {
        let mut event = http_event(shape, &valid);
        edit(&mut event);
        event
    };
    // (name, event, expected status, expected reason code or 0 for success)
    let cases: Vec<(&str, Value, u64, u64)> = vec![
        (
            "v1 null headers",
            with(HttpShape::RestV1, &|e| {
                e["headers"] = Value::Null;
                e["multiValueHeaders"] = Value::Null;
            }),
            200,
            0,
        ),
        (
            "v1 no headers",
            with(HttpShape::RestV1, &|e| {
                e.as_object_mut().unwrap().remove("headers");
            }),
            200,
            0,
        ),
        (
            "v2 no host",
            with(HttpShape::HttpV2, &|e| {
                e["headers"].as_object_mut().unwrap().retain(|k, _| !k.eq_ignore_ascii_case("host"));
            }),
            200,
            0,
        ),
        ("v2 null headers", with(HttpShape::HttpV2, &|e| e["headers"] = Value::Null), 200, 0),
        (
            "v2 text content type",
            with(HttpShape::HttpV2, &|e| e["headers"]["content-type"] = json!("text/plain")),
            200,
            0,
        ),
        (
            "v1 base64 without padding",
            with(HttpShape::RestV1Base64, &|e| e["body"] = json!(STANDARD_NO_PAD.encode(format!("{valid} ")))),
            200,
            0,
        ),
        (
            "v1 invalid base64",
            with(HttpShape::RestV1, &|e| {
                e["body"] = json!("%%%not base64%%%");
                e["isBase64Encoded"] = json!(true);
            }),
            400,
            40408,
        ),
        ("v1 null body", with(HttpShape::RestV1, &|e| e["body"] = Value::Null), 400, 40408),
        ("v1 object body", with(HttpShape::RestV1, &|e| e["body"] = json!({"service": "user"})), 400, 40408),
        ("v1 GET", with(HttpShape::RestV1, &|e| e["httpMethod"] = json!("GET")), 400, 40333),
        ("v2 GET", with(HttpShape::HttpV2, &|e| e["requestContext"]["http"]["method"] = json!("GET")), 400, 40333),
        ("alb PUT", with(HttpShape::Alb, &|e| e["httpMethod"] = json!("PUT")), 400, 40333),
        ("v1 lowercase post", with(HttpShape::RestV1, &|e| e["httpMethod"] = json!("post")), 200, 0),
        ("v2 body with BOM", with(HttpShape::HttpV2, &|e| e["body"] = json!(format!("\u{feff}{valid}"))), 400, 40408),
    ];
    for (name, event, status, reason_code) in cases {
        let app = test_app();

        let result = app.invoke(event).await.expect("HTTP results are never invocation errors");

        let (actual_status, body) = http_result(&result);
        assert_eq!(actual_status, status, "{name}: {body}");
        assert_eq!(body["status"], status, "{name}");
        if reason_code == 0 {
            assert_eq!(app.outbox.sent().len(), 1, "{name}");
        } else {
            assert_eq!(body["reason_code"], reason_code, "{name}");
            assert!(app.untouched(), "{name}");
        }
    }
}

#[tokio::test]
async fn http_response_formats() {
    let valid = servop("demo-profile-1", 60);
    for shape in HTTP_SHAPES {
        let app = test_app();

        let result = app.invoke(http_event(shape, &valid)).await.expect("response");

        assert_eq!(result["isBase64Encoded"], false, "{shape:?}");
        let content_type =
            result["headers"]["Content-Type"].as_str().or(result["multiValueHeaders"]["Content-Type"][0].as_str());
        assert_eq!(content_type, Some("application/json"), "{shape:?}");
        assert_eq!(result.get("statusDescription").is_some(), shape == HttpShape::Alb, "{shape:?}");
    }

    let mut multi_value_alb = http_event(HttpShape::Alb, &valid);
    multi_value_alb["multiValueHeaders"] = json!({"host": ["example.com"]});
    let result = test_app().invoke(multi_value_alb).await.expect("response");
    assert_eq!(result["multiValueHeaders"]["Content-Type"], json!(["application/json"]));
    assert_eq!(result["statusDescription"], "200 OK");
}

#[tokio::test]
async fn odd_direct_events() {
    let cases = [
        (json!([1, 2]), 40408),
        (json!("text"), 40408),
        (json!(null), 40408),
        (json!(17), 40408),
        (json!({}), 40333),
        (json!({"detail": {"profileId": "demo-profile-1"}}), 40333),
        (json!({"detail-type": "PasswordResetRequested", "source": "x"}), 40358),
    ];
    for (event, reason_code) in cases {
        let app = test_app();

        let body = app.invoke(event.clone()).await.expect("permanent failures are responses");

        assert_eq!(body["reason_code"], reason_code, "{event}");
        assert!(app.untouched(), "{event}");
    }
}
