//! DynamoDB adapter for the profiles table.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::errors::backend_error;
use crate::domain::ProfileId;
use crate::error::BackendError;
use crate::ports::{EmailIdentity, ProfileRecord, ProfileStore};

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
    ProfileRecord { email, user_name: text("userName"), language_code: text("languageCode") }
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
            (item(vec![("identities", AttributeValue::S("a@example.com".into()))]), EmailIdentity::Absent),
            (item(vec![("identities", email_map(AttributeValue::S(String::new())))]), EmailIdentity::Absent),
            (item(vec![("identities", email_map(AttributeValue::Null(true)))]), EmailIdentity::Absent),
            (
                item(vec![("identities", email_map(AttributeValue::Ss(vec!["a@example.com".into()])))]),
                EmailIdentity::NotText,
            ),
            (item(vec![("identities", email_map(AttributeValue::N("1".into())))]), EmailIdentity::NotText),
            (
                item(vec![("identities", email_map(AttributeValue::S("a@example.com".into())))]),
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
