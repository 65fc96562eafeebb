//! DynamoDB adapter for token items (tokens table) and request records (requests table).
//!
//! Requests table items, partition key `pk` (S), TTL attribute `expiresAt`:
//! - `delivery#<key>`: `state` ("SENDING" or "COMPLETED"), `profileId`, `lockedUntil`,
//!   `response` (the servop response JSON, once completed).
//! - `history#<profileId>`: `sends` (list of epoch seconds), `version` (optimistic lock).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::errors::backend_error;
use crate::domain::ProfileId;
use crate::error::BackendError;
use crate::ports::{BeginOutcome, DeliveryRecord, Ledger, SendHistory, SendPlan, TokenRecord, TokenStore};
use crate::ratelimit::WINDOW_SECONDS;

type Item = HashMap<String, AttributeValue>;

/// Token items keyed by `profileId`, so a new token overwrites the profile's earlier one in
/// the same write, and the request records that guard them. `expiresAt` is the TTL attribute.
pub struct DynamoTokens {
    client: Client,
    tokens_table: String,
    requests_table: String,
}

impl DynamoTokens {
    pub fn new(client: Client, tokens_table: String, requests_table: String) -> Self {
        Self { client, tokens_table, requests_table }
    }

    async fn get_request_item(&self, pk: String) -> Result<Option<Item>, BackendError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.requests_table)
            .key("pk", AttributeValue::S(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| backend_error("GetItem", err))?;
        Ok(output.item)
    }
}

fn delivery_pk(key: &str) -> String {
    format!("delivery#{key}")
}

fn history_pk(profile_id: &str) -> String {
    format!("history#{profile_id}")
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number(item: &Item, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(raw)) => raw.parse().unwrap_or(0),
        _ => 0,
    }
}

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(value)) => value,
        _ => "",
    }
}

fn delivery_from_item(item: &Item) -> DeliveryRecord {
    let profile_id = text(item, "profileId").to_owned();
    match text(item, "state") {
        "COMPLETED" => DeliveryRecord::Completed { profile_id, response: text(item, "response").to_owned() },
        _ => DeliveryRecord::Sending {
            profile_id,
            token_hash: text(item, "tokenHash").to_owned(),
            locked_until: number(item, "lockedUntil"),
        },
    }
}

fn history_from_item(item: &Item) -> SendHistory {
    let sends = match item.get("sends") {
        Some(AttributeValue::L(values)) => values
            .iter()
            .filter_map(|value| match value {
                AttributeValue::N(raw) => raw.parse().ok(),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    SendHistory { sends, version: number(item, "version") }
}

fn history_item(profile_id: &str, history: &SendHistory) -> Item {
    let last = history.sends.iter().copied().max().unwrap_or(0);
    HashMap::from([
        ("pk".to_owned(), s(&history_pk(profile_id))),
        ("sends".to_owned(), AttributeValue::L(history.sends.iter().map(|&sent| n(sent)).collect())),
        ("version".to_owned(), n(history.version)),
        // Past the window the history no longer limits anything.
        ("expiresAt".to_owned(), n(last + WINDOW_SECONDS)),
    ])
}

fn token_item(record: &TokenRecord) -> Item {
    HashMap::from([
        ("profileId".to_owned(), s(record.profile_id.as_str())),
        ("tokenHash".to_owned(), s(&record.token_hash)),
        ("createdAt".to_owned(), n(record.created_at)),
        ("expiresAt".to_owned(), n(record.expires_at)),
    ])
}

fn put(
    table: &str,
    item: Item,
    condition: Option<(&str, Option<(&str, AttributeValue)>)>,
) -> Result<TransactWriteItem, BackendError> {
    let mut builder = Put::builder().table_name(table).set_item(Some(item));
    if let Some((expression, value)) = condition {
        builder = builder.condition_expression(expression);
        if let Some((name, value)) = value {
            builder = builder.expression_attribute_values(name, value);
        }
    }
    let put = builder.build().map_err(|err| BackendError::permanent("TransactWriteItems", err.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// True when a conditional check of a write failed (someone else wrote first).
fn is_condition_failure(error: &SdkError<TransactWriteItemsError, aws_smithy_runtime_api::http::Response>) -> bool {
    match error {
        SdkError::ServiceError(context) => match context.err() {
            TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                cancelled.cancellation_reasons().iter().any(|reason| reason.code() == Some("ConditionalCheckFailed"))
            }
            _ => false,
        },
        _ => false,
    }
}

/// Ignores the failure of a conditional single-item write: the item already changed.
fn unless_condition_failed<E>(
    operation: &'static str,
    result: Result<impl Sized, SdkError<E, aws_smithy_runtime_api::http::Response>>,
) -> Result<(), BackendError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(context)) if context.err().code() == Some("ConditionalCheckFailedException") => {
            Ok(())
        }
        Err(err) => Err(backend_error(operation, err)),
    }
}

#[async_trait]
impl TokenStore for DynamoTokens {
    async fn load(&self, delivery_key: Option<&str>, profile_id: &ProfileId) -> Result<Ledger, BackendError> {
        let history_key = history_pk(profile_id.as_str());
        let Some(key) = delivery_key else {
            let history = self.get_request_item(history_key).await?;
            return Ok(Ledger { delivery: None, history: history.as_ref().map(history_from_item).unwrap_or_default() });
        };

        // Both items in one request: one round trip and one connection instead of two.
        let delivery_key = delivery_pk(key);
        let keys = KeysAndAttributes::builder()
            .keys(HashMap::from([("pk".to_owned(), s(&delivery_key))]))
            .keys(HashMap::from([("pk".to_owned(), s(&history_key))]))
            .consistent_read(true)
            .build()
            .map_err(|err| BackendError::permanent("BatchGetItem", err.to_string()))?;
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.requests_table, keys)
            .send()
            .await
            .map_err(|err| backend_error("BatchGetItem", err))?;

        let unprocessed = output.unprocessed_keys().and_then(|tables| tables.get(&self.requests_table));
        if unprocessed.is_some_and(|left| !left.keys().is_empty()) {
            // DynamoDB returns keys unread when throttled: read them one by one, with retries.
            let (delivery, history) =
                tokio::join!(self.get_request_item(delivery_key), self.get_request_item(history_key));
            return Ok(Ledger {
                delivery: delivery?.as_ref().map(delivery_from_item),
                history: history?.as_ref().map(history_from_item).unwrap_or_default(),
            });
        }

        let items = output.responses().and_then(|tables| tables.get(&self.requests_table));
        let find = |pk: &str| items.into_iter().flatten().find(|item| text(item, "pk") == pk);
        Ok(Ledger {
            delivery: find(&delivery_key).map(delivery_from_item),
            history: find(&history_key).map(history_from_item).unwrap_or_default(),
        })
    }

    async fn begin_send(&self, plan: &SendPlan) -> Result<BeginOutcome, BackendError> {
        let profile = plan.token.profile_id.as_str();
        let history_condition = if plan.history_before.version == 0 {
            ("attribute_not_exists(pk)", None)
        } else {
            ("version = :version", Some((":version", n(plan.history_before.version))))
        };

        let mut writes = vec![
            put(&self.tokens_table, token_item(&plan.token), None)?,
            put(&self.requests_table, history_item(profile, &plan.history_after), Some(history_condition))?,
        ];
        if let Some(key) = &plan.delivery_key {
            let item = HashMap::from([
                ("pk".to_owned(), s(&delivery_pk(key))),
                ("state".to_owned(), s("SENDING")),
                ("profileId".to_owned(), s(profile)),
                ("tokenHash".to_owned(), s(&plan.token.token_hash)),
                ("lockedUntil".to_owned(), n(plan.locked_until)),
                ("expiresAt".to_owned(), n(plan.locked_until + crate::reset::DELIVERY_RECORD_SECONDS)),
            ]);
            let condition = match &plan.replaces_attempt {
                None => ("attribute_not_exists(pk)", None),
                // Only the stale attempt's own record may be replaced.
                Some(stale_hash) => ("tokenHash = :stale", Some((":stale", s(stale_hash)))),
            };
            writes.push(put(&self.requests_table, item, Some(condition))?);
        }

        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(BeginOutcome::Started),
            Err(err) if is_condition_failure(&err) => Ok(BeginOutcome::Conflict),
            // A transaction cancelled for another reason (a conflicting transaction,
            // throttling) may succeed when repeated.
            Err(err)
                if err.as_service_error().is_some_and(TransactWriteItemsError::is_transaction_canceled_exception) =>
            {
                Err(BackendError::retryable("TransactWriteItems", "TransactionCanceledException (HTTP 400)"))
            }
            Err(err) => Err(backend_error("TransactWriteItems", err)),
        }
    }

    async fn abort_send(&self, plan: &SendPlan) -> Result<(), BackendError> {
        let profile = plan.token.profile_id.as_str();

        let revoke_token = self
            .client
            .delete_item()
            .table_name(&self.tokens_table)
            .key("profileId", s(profile))
            .condition_expression("tokenHash = :hash")
            .expression_attribute_values(":hash", s(&plan.token.token_hash))
            .send();

        // A fresh version (not the old one) keeps the optimistic lock safe from ABA.
        let restored =
            SendHistory { sends: plan.history_before.sends.clone(), version: plan.history_after.version + 1 };
        let restore_history = self
            .client
            .put_item()
            .table_name(&self.requests_table)
            .set_item(Some(history_item(profile, &restored)))
            .condition_expression("version = :version")
            .expression_attribute_values(":version", n(plan.history_after.version))
            .send();

        let release_delivery = async {
            let Some(key) = &plan.delivery_key else { return Ok(()) };
            let result = self
                .client
                .delete_item()
                .table_name(&self.requests_table)
                .key("pk", s(&delivery_pk(key)))
                .condition_expression("#state = :sending AND tokenHash = :hash")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":sending", s("SENDING"))
                .expression_attribute_values(":hash", s(&plan.token.token_hash))
                .send()
                .await;
            unless_condition_failed("DeleteItem", result)
        };

        let (token, history, delivery) = tokio::join!(revoke_token, restore_history, release_delivery);
        unless_condition_failed("DeleteItem", token)?;
        unless_condition_failed("PutItem", history)?;
        delivery
    }

    async fn current_token_hash(&self, profile_id: &ProfileId) -> Result<Option<String>, BackendError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tokens_table)
            .key("profileId", s(profile_id.as_str()))
            .projection_expression("tokenHash")
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| backend_error("GetItem", err))?;
        Ok(output.item.as_ref().map(|item| text(item, "tokenHash").to_owned()))
    }

    async fn complete(
        &self,
        delivery_key: &str,
        profile_id: &ProfileId,
        response: &str,
        expires_at: u64,
    ) -> Result<(), BackendError> {
        self.client
            .put_item()
            .table_name(&self.requests_table)
            .item("pk", s(&delivery_pk(delivery_key)))
            .item("state", s("COMPLETED"))
            .item("profileId", s(profile_id.as_str()))
            .item("response", s(response))
            .item("expiresAt", n(expires_at))
            .send()
            .await
            .map_err(|err| backend_error("PutItem", err))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_round_trip() {
        let history = SendHistory { sends: vec![10, 20], version: 3 };

        let item = history_item("p-1", &history);

        assert_eq!(history_from_item(&item), history);
        assert_eq!(item["pk"], s("history#p-1"));
        assert_eq!(item["expiresAt"], n(20 + WINDOW_SECONDS));
    }

    #[test]
    fn delivery_states() {
        let sending = HashMap::from([
            ("state".to_owned(), s("SENDING")),
            ("profileId".to_owned(), s("p-1")),
            ("tokenHash".to_owned(), s("ab")),
            ("lockedUntil".to_owned(), n(99)),
        ]);
        let completed = HashMap::from([
            ("state".to_owned(), s("COMPLETED")),
            ("profileId".to_owned(), s("p-1")),
            ("response".to_owned(), s("{}")),
        ]);

        assert_eq!(
            delivery_from_item(&sending),
            DeliveryRecord::Sending { profile_id: "p-1".into(), token_hash: "ab".into(), locked_until: 99 }
        );
        assert_eq!(
            delivery_from_item(&completed),
            DeliveryRecord::Completed { profile_id: "p-1".into(), response: "{}".into() }
        );
    }
}
