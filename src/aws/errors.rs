//! Classification of AWS SDK errors into retryable and permanent [`BackendError`]s.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::error::BackendError;

/// Error codes that clear when the call is repeated later: throttling and transient
/// server faults. `LimitExceededException` is absent because it does not clear on retry.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
];

/// Turns an SDK error into a [`BackendError`]: time-outs, connection failures, 5xx and
/// throttling are retryable; everything else is permanent.
///
/// For service errors only the error code and HTTP status are kept. SES messages can
/// quote the recipient address, so the message text never reaches the log.
pub fn backend_error<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().unwrap_or("UnknownError");
            let detail = format!("{code} (HTTP {status})");
            if status >= 500 || RETRYABLE_CODES.contains(&code) {
                BackendError::retryable(operation, detail)
            } else {
                BackendError::permanent(operation, detail)
            }
        }
        SdkError::TimeoutError(_) => BackendError::retryable(operation, "timed out"),
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            BackendError::retryable(operation, DisplayErrorContext(&error).to_string())
        }
        _ => BackendError::permanent(operation, DisplayErrorContext(&error).to_string()),
    }
}

/// Like [`backend_error`] for a call that is not idempotent (SES `SendEmail`): a time-out,
/// an unreadable response or a connection lost after connecting leaves it unknown whether
/// the call took effect. Failures to connect at all are known not to have sent anything.
pub fn non_idempotent_error<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let unknown = match &error {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(failure) => !failure.is_user() && !failed_to_connect(&error),
        _ => false,
    };
    if unknown {
        BackendError::outcome_unknown(operation, DisplayErrorContext(&error).to_string())
    } else {
        backend_error(operation, error)
    }
}

/// Checks whether the error chain shows that no connection was made (refused, or timed out while
/// connecting), so no request reached the service.
fn failed_to_connect(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = current {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable) {
                return true;
            }
        }
        let text = cause.to_string().to_ascii_lowercase();
        if text.contains("connect timeout")
            || text.contains("tcp connect error")
            || text.contains("error trying to connect")
        {
            return true;
        }
        current = cause.source();
    }
    false
}
