//! Inputs that real tools send, kept in tests/data/cases/, each with its expected outcome.

mod common;

use serde_json::json;

use common::{http_result, load_json, test_app, NOW};

#[tokio::test]
async fn rest_v1_from_sam_generate_event() {
    let app = test_app();

    let result = app.invoke(load_json("tests/data/cases/rest-v1-sam-generated.json")).await.expect("response");

    assert_eq!(result["statusCode"], 200);
    assert_eq!(result["body"], r#"{"status":200,"data":null}"#);
    assert_eq!(http_result(&result).1, json!({"status": 200, "data": null}));
    let sent = app.outbox.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to.as_str(), "case.user@example.com");
}

#[tokio::test]
async fn http_v2_from_sam_generate_event() {
    let app = test_app();

    let result = app.invoke(load_json("tests/data/cases/http-v2-sam-generated.json")).await.expect("response");

    let (status, body) = http_result(&result);
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": 200, "data": null}));
    assert_eq!(app.outbox.sent().len(), 1);
}

#[tokio::test]
async fn eventbridge_detail_with_data_only() {
    let app = test_app();

    let result = app.invoke(load_json("tests/data/cases/eventbridge-detail-data.json")).await.expect("success");

    assert_eq!(result, json!({"status": 200, "data": null}));
    let [email] = app.outbox.sent().try_into().expect("one email");
    assert!(email.text.contains("expires in 1 hour (at"), "{}", email.subject);
    let [record] = app.tokens.snapshot().try_into().expect("one token item");
    assert_eq!(record.expires_at, NOW + 60 * 60);
}
