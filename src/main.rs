//! The Lambda function: builds the AWS clients once, then serves invocations of every
//! supported trigger shape.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tracing::error;

use reset_mailer::trigger::handle_invocation;

// Lambda runs one invocation at a time per execution environment, so one thread suffices.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    reset_mailer::telemetry::init();

    let app = match reset_mailer::aws::app_from_env().await {
        Ok(app) => app,
        Err(config_error) => {
            error!("{config_error}");
            eprintln!("{config_error}");
            std::process::exit(1);
        }
    };
    let app = &app;

    // lambda_runtime wraps each invocation in a span that carries the Lambda request id.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle_invocation(app, event.payload, Some(&event.context.request_id)).await
    }))
    .await
}
