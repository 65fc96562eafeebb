//! EventBridge events: `detail` is either the whole servop or only its `data` object.

use serde_json::Value;
use tracing::{info_span, Instrument};

use super::{response_for, run};
use crate::error::ResetError;
use crate::reset::App;
use crate::servop::{parse_data, parse_servop};

/// A failure that may clear on retry, returned to Lambda as an invocation error so that
/// the asynchronous retries and the on-failure destination apply. The message carries the
/// reason code and no personal data.
#[derive(Debug, thiserror::Error)]
#[error("retryable failure, reason code {reason_code}: {message}")]
pub struct RetryableFailure {
    pub reason_code: u32,
    pub message: String,
}

pub(super) async fn handle(app: &App, event: &Value) -> Result<Value, RetryableFailure> {
    let event_id = event["id"].as_str().unwrap_or("");
    let span = info_span!("eventbridge_event", event_id);
    let max_ttl = app.settings.max_ttl_minutes;

    let parsed = match event.get("detail") {
        None | Some(Value::Null) => Err(ResetError::MissingParameter("detail")),
        Some(detail) if is_whole_servop(detail) => parse_servop(detail, max_ttl),
        Some(detail) => parse_data(detail, max_ttl),
    };
    let fallback = (!event_id.is_empty()).then(|| format!("event#{event_id}"));
    let result = run(app, parsed, None, fallback).instrument(span).await;

    match &result {
        Err(error) if error.is_retryable() => {
            Err(RetryableFailure { reason_code: error.reason_code(), message: error.to_string() })
        }
        // Permanent failures are logged by `run` and not retried: the response is the result.
        _ => Ok(response_for(&result)),
    }
}

fn is_whole_servop(detail: &Value) -> bool {
    ["service", "operation", "data"].iter().any(|key| detail.get(key).is_some())
}

impl From<RetryableFailure> for lambda_runtime::Diagnostic {
    fn from(failure: RetryableFailure) -> Self {
        Self { error_type: "RetryableFailure".into(), error_message: failure.to_string() }
    }
}
