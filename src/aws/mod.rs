//! DynamoDB and SES v2 adapters, and the wiring of the Lambda's [`App`] from the
//! environment.

mod dynamodb;
mod errors;
mod ledger;
mod ses;

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::{ConfigError, Settings, Tables};
use crate::reset::App;

pub use dynamodb::DynamoProfiles;
pub use errors::{backend_error, non_idempotent_error};
pub use ledger::DynamoTokens;
pub use ses::SesMailer;

/// Time allowed to open a connection to an AWS endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Time allowed for one HTTP attempt of an AWS call.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time allowed for an AWS call including its retries.
///
/// A request makes three DynamoDB steps in a row (read, write, then record or undo) and
/// one 5 s send, so time-outs end it within 3 x 6 s + 5 s = 23 s, below the 30 s function
/// time-out in `template.yaml`. A write conflict adds a read and a write, but conflicts
/// come with fast responses, not time-outs.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);
/// Attempts per DynamoDB call, the first included (SDK standard retry mode, with backoff).
pub const MAX_ATTEMPTS: u32 = 3;
/// Time allowed for SES `SendEmail`, which is tried once.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Loads the SDK configuration with this service's time-outs and retry policy.
///
/// Region, credentials and endpoints come from the SDK's standard sources, among them
/// `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB` and `AWS_ENDPOINT_URL_SESV2`.
pub async fn load_sdk_config() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}

/// Maximum time init waits for the connection warm-up.
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(2);

/// Builds the Lambda's [`App`]: settings and table names from the environment, DynamoDB
/// and SES clients from the SDK configuration. Opens the backend connections before it
/// returns, so the first invocation does not pay for the TCP and TLS handshakes.
pub async fn app_from_env() -> Result<App, ConfigError> {
    let settings = Settings::from_env()?;
    let tables = Tables::from_env()?;
    let sdk_config = load_sdk_config().await;
    let clients = Clients::new(&sdk_config);
    clients.warm_up(&tables, &settings.email_from).await;
    Ok(clients.into_app(settings, tables))
}

/// Builds an [`App`] over the given SDK configuration.
pub fn app_with(settings: Settings, tables: Tables, sdk_config: &SdkConfig) -> App {
    Clients::new(sdk_config).into_app(settings, tables)
}

/// The two SDK clients, configured for this service.
pub struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    sesv2: aws_sdk_sesv2::Client,
}

impl Clients {
    pub fn new(sdk_config: &SdkConfig) -> Self {
        // SendEmail has no idempotency token: an SDK retry after a lost response could mail
        // twice, so SES gets one attempt with a longer time-out, and retries happen a level
        // up (Lambda's retries, or the caller's).
        let ses_timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(SEND_TIMEOUT)
            .operation_timeout(SEND_TIMEOUT)
            .build();
        let ses_config = aws_sdk_sesv2::config::Builder::from(sdk_config)
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(ses_timeouts)
            .build();

        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk_config),
            sesv2: aws_sdk_sesv2::Client::from_conf(ses_config),
        }
    }

    /// Makes cheap calls to both services, concurrently, so that their connections are
    /// open and pooled. It sends two `GetItem`s of an absent key in the requests table,
    /// because a request makes two reads at once over separate connections, and one
    /// `GetEmailIdentity` of the sender's domain. Results, errors included, are ignored because an error
    /// answer still leaves the connection open.
    pub async fn warm_up(&self, tables: &Tables, email_from: &str) {
        let address = email_from.rsplit_once('<').map_or(email_from, |(_, rest)| rest.trim_end_matches('>'));
        let domain = address.rsplit_once('@').map_or(address, |(_, domain)| domain);

        let read = || {
            self.dynamodb
                .get_item()
                .table_name(&tables.requests)
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("warm-up".into()))
                .send()
        };
        let sesv2 = self.sesv2.get_email_identity().email_identity(domain).send();

        match tokio::time::timeout(WARM_UP_TIMEOUT, async { tokio::join!(read(), read(), sesv2) }).await {
            Ok(_) => tracing::debug!("backend connections opened"),
            Err(_) => tracing::info!("connection warm-up timed out; the first call opens its own"),
        }
    }

    pub fn into_app(self, settings: Settings, tables: Tables) -> App {
        let profiles = Arc::new(DynamoProfiles::new(self.dynamodb.clone(), tables.profiles));
        let tokens = Arc::new(DynamoTokens::new(self.dynamodb, tables.tokens, tables.requests));
        let mailer = Arc::new(SesMailer::new(self.sesv2));
        App::new(settings, profiles, tokens, mailer)
    }
}
