//! DynamoDB adapters for the profiles table and the tokens table.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::errors::backend_error;
use crate::domain::ProfileId;
use crate::error::BackendError;
use crate::ports::{EmailIdentity, ProfileRecord, ProfileStore, TokenRecord, TokenStore};

/// Reads profiles: partition key `profileId` (S), email at `identities.Email`, optional
/// `userName` (S) and `languageCode` (S).
pub struct DynamoProfiles {
    client: Client,
    table: String,
}

impl DynamoProfiles {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

#[async_trait]
impl ProfileStore for DynamoProfiles {
    async fn find_profile(&self, id: &ProfileId) -> Result<Option<ProfileRecord>, BackendError> {
        // The key is projected too, so that a profile without any of the other attributes
        // still comes back as an item rather than as "not found".
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("profileId", AttributeValue::S(id.as_str().to_owned()))
            .consistent_read(true)
            .projection_expression("#id, #identities.#email, #userName, #languageCode")
            .expression_attribute_names("#id", "profileId")
            .expression_attribute_names("#identities", "identities")
            .expression_attribute_names("#email", "Email")
            .expression_attribute_names("#userName", "userName")
            .expression_attribute_names("#languageCode", "languageCode")
            .send()
            .await
            .map_err(|err| backend_error("GetItem", err))?;

        Ok(output.item.map(|item| profile_from_item(&item)))
    }
}

/// Maps a profile item to a [`ProfileRecord`]; attributes of an unexpected type count as absent.
pub fn profile_from_item(item: &HashMap<String, AttributeValue>) -> ProfileRecord {
    let email = match item.get("identities") {
        Some(AttributeValue::M(identities)) => match identities.get("Email") {
            None | Some(AttributeValue::Null(_)) => EmailIdentity::Absent,
            Some(AttributeValue::S(raw)) if raw.is_empty() => EmailIdentity::Absent,
            Some(AttributeValue::S(raw)) => EmailIdentity::Text(raw.clone()),
            Some(_) => EmailIdentity::NotText,
        },
        _ => EmailIdentity::Absent,
    };
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    };
    ProfileRecord {
        email,
        user_name: text("userName"),
        language_code: text("languageCode"),
    }
}

/// Stores token items keyed by `profileId` (S), so a new token overwrites the profile's
/// earlier one in the same write. `expiresAt` is the table's TTL attribute.
pub struct DynamoTokens {
    client: Client,
    table: String,
}

impl DynamoTokens {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

#[async_trait]
impl TokenStore for DynamoTokens {
    async fn put_token(&self, record: &TokenRecord) -> Result<(), BackendError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("profileId", AttributeValue::S(record.profile_id.as_str().to_owned()))
            .item("tokenHash", AttributeValue::S(record.token_hash.clone()))
            .item("createdAt", AttributeValue::N(record.created_at.to_string()))
            .item("expiresAt", AttributeValue::N(record.expires_at.to_string()))
            .send()
            .await
            .map_err(|err| backend_error("PutItem", err))?;
        Ok(())
    }

    async fn revoke_token(&self, profile_id: &ProfileId, token_hash: &str) -> Result<(), BackendError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("profileId", AttributeValue::S(profile_id.as_str().to_owned()))
            .condition_expression("tokenHash = :hash")
            .expression_attribute_values(":hash", AttributeValue::S(token_hash.to_owned()))
            .send()
            .await;

        match result {
            Ok(_) => Ok(()),
            // A newer token replaced this one, or the item is gone: nothing to revoke.
            Err(SdkError::ServiceError(context))
                if matches!(context.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(())
            }
            Err(err) => Err(backend_error("DeleteItem", err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    #[test]
    fn identity_attribute_shapes() {
        let email_map = |value| AttributeValue::M(item(vec![("Email", value)]));
        let cases = [
            (item(vec![]), EmailIdentity::Absent),
            (
                item(vec![("identities", AttributeValue::S("a@example.com".into()))]),
                EmailIdentity::Absent,
            ),
            (
                item(vec![("identities", email_map(AttributeValue::S(String::new())))]),
                EmailIdentity::Absent,
            ),
            (
                item(vec![("identities", email_map(AttributeValue::Null(true)))]),
                EmailIdentity::Absent,
            ),
            (
                item(vec![(
                    "identities",
                    email_map(AttributeValue::Ss(vec!["a@example.com".into()])),
                )]),
                EmailIdentity::NotText,
            ),
            (
                item(vec![("identities", email_map(AttributeValue::N("1".into())))]),
                EmailIdentity::NotText,
            ),
            (
                item(vec![(
                    "identities",
                    email_map(AttributeValue::S("a@example.com".into())),
                )]),
                EmailIdentity::Text("a@example.com".into()),
            ),
        ];
        for (attributes, expected) in cases {
            assert_eq!(profile_from_item(&attributes).email, expected, "{attributes:?}");
        }
    }

    #[test]
    fn optional_text_attributes() {
        let record = profile_from_item(&item(vec![
            ("userName", AttributeValue::S("Ann".into())),
            ("languageCode", AttributeValue::N("1".into())),
        ]));

        assert_eq!(record.user_name.as_deref(), Some("Ann"));
        assert_eq!(record.language_code, None);
    }
}
