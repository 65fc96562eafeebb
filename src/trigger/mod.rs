//! Entry point for every Lambda event: recognises the trigger by the event's shape and
//! hands it to the HTTP, EventBridge or direct-invoke adapter.
//!
//! | shape | recognised by | result |
//! |---|---|---|
//! | API Gateway REST (v1), ALB | `httpMethod` and `requestContext` | HTTP response whose status mirrors the servop status |
//! | HTTP API (v2), function URL | `version` "2.0" or `rawPath`, and `requestContext` | same |
//! | EventBridge | `detail-type` and `source` | servop response, or an invocation error when retryable |
//! | anything else | | treated as a direct invoke of the bare servop |

mod eventbridge;
mod http;

use serde_json::Value;
use tracing::{error, info, info_span, warn, Instrument};

use crate::error::ResetError;
use crate::reset::{send_password_reset, App};
use crate::servop::{parse_servop, ResetRequest};

pub use eventbridge::RetryableFailure;
pub use http::HttpFlavor;

/// The kind of trigger an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Http(HttpFlavor),
    EventBridge,
    Direct,
}

/// Recognises the trigger from the event's top-level keys.
pub fn classify(event: &Value) -> Trigger {
    let Value::Object(fields) = event else {
        return Trigger::Direct;
    };
    let has = |key: &str| fields.contains_key(key);

    if has("requestContext") {
        let v2 = event["version"] == "2.0" || has("rawPath") || event["requestContext"].get("http").is_some();
        if v2 {
            return Trigger::Http(HttpFlavor::V2);
        }
        if event["requestContext"].get("elb").is_some() {
            return Trigger::Http(HttpFlavor::Alb);
        }
        if has("httpMethod") {
            return Trigger::Http(HttpFlavor::RestV1);
        }
    }
    if has("detail-type") && has("source") {
        return Trigger::EventBridge;
    }
    Trigger::Direct
}

/// Handles one Lambda event of any supported shape and returns the function result.
///
/// Only a retryable failure on the EventBridge path becomes an `Err`, so that Lambda's
/// retries and on-failure destination apply; every other failure is a response.
pub async fn handle_event(app: &App, event: Value) -> Result<Value, RetryableFailure> {
    handle_invocation(app, event, None).await
}

/// Like [`handle_event`], with the Lambda request id, which identifies a direct
/// invocation across Lambda's own retries of an asynchronous invoke.
pub async fn handle_invocation(
    app: &App,
    event: Value,
    lambda_request_id: Option<&str>,
) -> Result<Value, RetryableFailure> {
    match classify(&event) {
        Trigger::Http(flavor) => Ok(http::handle(app, &event, flavor).await),
        Trigger::EventBridge => eventbridge::handle(app, &event).await,
        Trigger::Direct => {
            let parsed = parse_servop(&event, app.settings.max_ttl_minutes);
            let fallback = lambda_request_id.map(|id| format!("lambda#{id}"));
            Ok(response_for(&run(app, parsed, None, fallback).await))
        }
    }
}

/// Chooses the key that identifies a delivery: the caller's idempotency key (header or
/// `idempotencyKey` field) when given, else the trigger's own id (`fallback`).
fn delivery_key(request: &ResetRequest, header_key: Option<String>, fallback: Option<String>) -> Option<String> {
    let explicit = header_key.or_else(|| request.idempotency_key.clone());
    explicit.map(|key| format!("key#{key}")).or(fallback)
}

/// Runs a parsed request and logs the outcome with its reason code.
async fn run(
    app: &App,
    parsed: Result<ResetRequest, ResetError>,
    header_key: Option<String>,
    fallback_key: Option<String>,
) -> Result<Value, ResetError> {
    match parsed {
        Ok(request) => {
            let span = info_span!("request", profile_id = %request.profile_id);
            async {
                let key = delivery_key(&request, header_key, fallback_key);
                let result = send_password_reset(app, &request, key.as_deref()).await;
                log_outcome(&result);
                result
            }
            .instrument(span)
            .await
        }
        Err(error) => {
            let result = Err(error);
            log_outcome(&result);
            result
        }
    }
}

/// Logs a failed request with its reason code: 5xx as errors with the cause, 404 as
/// information, other rejections as warnings.
fn log_outcome(result: &Result<Value, ResetError>) {
    let Err(error) = result else { return };
    let (reason_code, status) = (error.reason_code(), error.status());
    if status >= 500 {
        let cause = std::error::Error::source(error).map(ToString::to_string).unwrap_or_default();
        error!(reason_code, status, retryable = error.is_retryable(), %cause, "request failed");
    } else if status == 404 {
        info!(reason_code, status, "request rejected: {error}");
    } else {
        warn!(reason_code, status, "request rejected: {error}");
    }
}

fn response_for(result: &Result<Value, ResetError>) -> Value {
    match result {
        Ok(response) => response.clone(),
        Err(error) => error.to_response(),
    }
}
