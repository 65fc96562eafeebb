//! Logging setup: `RUST_LOG` filtering, JSON lines inside Lambda, and a cap on other
//! crates' verbosity.

use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// Level used when `RUST_LOG` is unset or invalid.
pub const DEFAULT_FILTER: &str = "info";

/// Other crates log at most at INFO, whatever `RUST_LOG` sets. At TRACE the AWS SDK's
/// orchestrator (aws-smithy-runtime 1.16) prints whole requests and responses, and with
/// them the recipient address and the reset link; DEBUG is capped too as a margin.
fn allowed(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with(env!("CARGO_CRATE_NAME")) || *metadata.level() <= Level::INFO
}

/// Builds the subscriber that writes to `writer`, filtered by `rust_log` (`RUST_LOG` syntax).
/// `json` selects JSON lines; otherwise lines are plain text without colour codes.
pub fn subscriber<W>(rust_log: Option<&str>, json: bool, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let env_filter = rust_log
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter_fn(allowed)).with(env_filter);

    if json {
        Box::new(registry.with(tracing_subscriber::fmt::layer().json().with_writer(writer)))
    } else {
        Box::new(registry.with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer)))
    }
}

/// Installs the global subscriber: JSON lines to stdout inside Lambda (where
/// `AWS_LAMBDA_FUNCTION_NAME` is set), readable lines to stderr elsewhere.
pub fn init() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let subscriber = if in_lambda {
        subscriber(rust_log.as_deref(), true, std::io::stdout)
    } else {
        subscriber(rust_log.as_deref(), false, std::io::stderr)
    };
    // A second call (a test that already set one) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber);
}
