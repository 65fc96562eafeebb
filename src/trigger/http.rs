//! API Gateway REST (v1) and HTTP API (v2) payloads, function URLs and ALB: the servop is
//! the request body and the HTTP status mirrors the servop status.
//!
//! Fields are read straight from the JSON so that the variants real tools send (a null
//! `headers`, no `Content-Type`, no `Host`, a base64 body) all work, and a malformed
//! event gets a 400 rather than a deserialisation failure.

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_json::{json, Map, Value};
use tracing::{info_span, Instrument};

use super::{response_for, run};
use crate::error::ResetError;
use crate::reset::App;
use crate::servop::{parse_body, parse_idempotency_key, MAX_BODY_BYTES};

/// Standard base64 that accepts bodies with or without `=` padding, as clients differ.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The HTTP payload format, which decides the response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFlavor {
    /// API Gateway REST API, payload format 1.0.
    RestV1,
    /// HTTP API payload format 2.0, also used by function URLs.
    V2,
    /// Application Load Balancer target group.
    Alb,
}

pub(super) async fn handle(app: &App, event: &Value, flavor: HttpFlavor) -> Value {
    // ALB events carry no request id; the Lambda request id in the outer span remains.
    let request_id = event["requestContext"]["requestId"].as_str().unwrap_or("none");
    let span = info_span!("http_request", ?flavor, request_id);

    let result = async {
        let body = read_body(event, flavor)?;
        let header_key = header(event, "idempotency-key").map(parse_idempotency_key).transpose()?;
        let fallback = (request_id != "none").then(|| format!("apigw#{request_id}"));
        run(app, parse_body(&body, app.settings.max_ttl_minutes), header_key, fallback).await
    }
    .instrument(span)
    .await;

    let body = response_for(&result);
    let status = body["status"].as_u64().and_then(|status| u16::try_from(status).ok()).unwrap_or(500);
    let retry_after = result.as_ref().err().and_then(ResetError::retry_after);
    build_response(event, flavor, status, retry_after, &body)
}

/// Reads a header case-insensitively from `headers` or, failing that, `multiValueHeaders`.
fn header<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    let find = |field: &str| {
        event.get(field)?.as_object()?.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value)
    };
    match find("headers") {
        Some(value) => value.as_str(),
        None => find("multiValueHeaders")?.get(0)?.as_str(),
    }
}

/// The request method field, `None` when the event has none.
fn method(event: &Value, flavor: HttpFlavor) -> Option<&Value> {
    match flavor {
        HttpFlavor::V2 => event["requestContext"]["http"].get("method"),
        HttpFlavor::RestV1 | HttpFlavor::Alb => event.get("httpMethod"),
    }
}

/// Checks the method and returns the decoded body bytes.
fn read_body(event: &Value, flavor: HttpFlavor) -> Result<Vec<u8>, ResetError> {
    match method(event, flavor) {
        Some(Value::String(method)) if method.eq_ignore_ascii_case("POST") => {}
        // HTTP API v2 events from some tools carry no method; the body still decides.
        None | Some(Value::Null) if flavor == HttpFlavor::V2 => {}
        _ => return Err(ResetError::InvalidOperation("Send the servop as the body of a POST request.".into())),
    }

    let encoded = event["isBase64Encoded"].as_bool().unwrap_or(false);
    match event.get("body") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) if encoded => {
            // Base64 grows data by a third: reject oversized bodies before decoding them.
            if text.len() > MAX_BODY_BYTES / 3 * 4 + 4 {
                return Err(ResetError::JsonParsing(format!(
                    "The request body is larger than {MAX_BODY_BYTES} bytes."
                )));
            }
            BASE64.decode(text.trim()).map_err(|_| {
                ResetError::JsonParsing("The request body is marked base64-encoded but is not valid base64.".into())
            })
        }
        Some(Value::String(text)) => Ok(text.as_bytes().to_vec()),
        Some(_) => Err(ResetError::JsonParsing("The HTTP event's body must be a string.".into())),
    }
}

fn build_response(request: &Value, flavor: HttpFlavor, status: u16, retry_after: Option<u64>, body: &Value) -> Value {
    let mut headers = vec![("Content-Type", "application/json".to_string()), ("Cache-Control", "no-store".to_string())];
    if let Some(seconds) = retry_after {
        headers.push(("Retry-After", seconds.to_string()));
    }
    let single: Map<String, Value> = headers.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let multi: Map<String, Value> = headers.iter().map(|(k, v)| (k.to_string(), json!([v]))).collect();

    let mut response = json!({
        "statusCode": status,
        "body": body.to_string(),
        "isBase64Encoded": false,
    });
    // An ALB with multi-value headers on sends `multiValueHeaders` and reads only that
    // field back; otherwise it reads `headers`.
    let multi_value_alb = flavor == HttpFlavor::Alb && request.get("multiValueHeaders").is_some_and(Value::is_object);
    if multi_value_alb {
        response["multiValueHeaders"] = Value::Object(multi);
    } else {
        response["headers"] = Value::Object(single);
    }
    if flavor == HttpFlavor::Alb {
        response["statusDescription"] = json!(status_description(status));
    }
    response
}

fn status_description(status: u16) -> String {
    let phrase = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    };
    format!("{status} {phrase}").trim_end().to_string()
}
