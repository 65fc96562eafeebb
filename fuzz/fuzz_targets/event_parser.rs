//! Fuzz target over the request parser and the event handler.
//!
//! Each input is used as
//! 1. an HTTP body for `servop::parse_body`,
//! 2. a Lambda event (when it is JSON), and as the `detail` of an EventBridge event,
//! 3. the body of an HTTP API v2 event and the base64 body of a REST API v1 event.
//!
//! Every result must be a success or a brainCloud error object with a reason code. The
//! in-memory adapters return no errors, so an error response must be a 4xx and must leave
//! no token and no email. Any panic, 5xx or invocation error is a finding.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

use reset_mailer::config::Settings;
use reset_mailer::embedded::{demo_setting, FixtureProfiles, MemoryTokens, Outbox, DEFAULT_PROFILES};
use reset_mailer::reset::App;
use reset_mailer::servop::parse_body;
use reset_mailer::trigger::handle_event;

/// Everything that can be built once and shared by all inputs.
struct Shared {
    runtime: Runtime,
    settings: Settings,
    profiles: Arc<FixtureProfiles>,
    http_v2: Value,
    rest_v1: Value,
    eventbridge: Value,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let sample = |text: &str| serde_json::from_str::<Value>(text).expect("sample event is JSON");
        Shared {
            runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime"),
            settings: Settings::from_lookup(demo_setting).expect("demo settings are valid"),
            profiles: Arc::new(FixtureProfiles::from_json(DEFAULT_PROFILES).expect("profile fixture")),
            http_v2: sample(include_str!("../../events/http-v2.json")),
            rest_v1: sample(include_str!("../../events/rest-v1.json")),
            eventbridge: sample(include_str!("../../events/eventbridge.json")),
        }
    })
}

/// Runs one event on a fresh app, so a success in one input cannot change the next one,
/// and checks the result.
fn invoke_and_check(shared: &Shared, event: Value, input_kind: &str) {
    let tokens = Arc::new(MemoryTokens::default());
    let outbox = Arc::new(Outbox::default());
    let mut app = App::new(shared.settings.clone(), shared.profiles.clone(), tokens.clone(), outbox.clone());
    app.clock = Arc::new(|| UNIX_EPOCH + Duration::from_secs(1_796_378_400));
    app.secrets = Arc::new(|| [7; 32]);

    let result = shared.runtime.block_on(handle_event(&app, event));

    let response = match result {
        Ok(response) => response,
        Err(failure) => panic!("{input_kind}: invocation error with local adapters: {failure}"),
    };
    let servop_response = if response.get("statusCode").is_some() {
        let status_code = response["statusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("{input_kind}: statusCode is not a number: {response}"));
        let body = response["body"].as_str().unwrap_or_else(|| panic!("{input_kind}: body is not a string"));
        let body: Value =
            serde_json::from_str(body).unwrap_or_else(|err| panic!("{input_kind}: body is not JSON: {err}"));
        assert_eq!(body["status"].as_u64(), Some(status_code), "{input_kind}: HTTP status differs from body status");
        body
    } else {
        response
    };

    let sent = outbox.sent().len();
    let stored = tokens.snapshot().len();
    if servop_response == json!({"status": 200, "data": null}) {
        assert_eq!(sent, 1, "{input_kind}: a success sent {sent} emails");
        assert_eq!(stored, 1, "{input_kind}: a success stored {stored} tokens");
        return;
    }
    let status =
        servop_response["status"].as_u64().unwrap_or_else(|| panic!("{input_kind}: no status: {servop_response}"));
    assert!((400..500).contains(&status), "{input_kind}: status {status} with local adapters: {servop_response}");
    assert!(servop_response["reason_code"].is_u64(), "{input_kind}: no reason_code: {servop_response}");
    let message = servop_response["status_message"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "{input_kind}: no status_message: {servop_response}");
    assert_eq!(servop_response["severity"], "ERROR", "{input_kind}");
    assert_eq!((sent, stored), (0, 0), "{input_kind}: an error left {sent} emails and {stored} tokens");
}

fuzz_target!(|bytes: &[u8]| {
    let shared = shared();

    if let Err(error) = parse_body(bytes, shared.settings.max_ttl_minutes) {
        assert!((400..500).contains(&error.status()), "parse_body: status {} for bad input", error.status());
    }

    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        let mut eventbridge = shared.eventbridge.clone();
        eventbridge["detail"] = value.clone();
        invoke_and_check(shared, value, "event");
        invoke_and_check(shared, eventbridge, "EventBridge detail");
    }

    let mut http_v2 = shared.http_v2.clone();
    http_v2["body"] = json!(String::from_utf8_lossy(bytes));
    invoke_and_check(shared, http_v2, "HTTP v2 body");

    let mut rest_v1 = shared.rest_v1.clone();
    rest_v1["body"] = json!(STANDARD.encode(bytes));
    rest_v1["isBase64Encoded"] = json!(true);
    invoke_and_check(shared, rest_v1, "REST v1 base64 body");
});
