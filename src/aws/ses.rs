//! SES v2 adapter: one `SendEmail` call with a subject, a text body and an HTML body.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use super::errors::non_idempotent_error;
use crate::error::BackendError;
use crate::ports::{Mailer, OutgoingEmail};

pub struct SesMailer {
    client: Client,
}

impl SesMailer {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn utf8(text: &str) -> Result<Content, BackendError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|err| BackendError::permanent("SendEmail", format!("building the message failed: {err}")))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send_email(&self, email: &OutgoingEmail) -> Result<(), BackendError> {
        let body = Body::builder().text(utf8(&email.text)?).html(utf8(&email.html)?).build();
        let message = Message::builder().subject(utf8(&email.subject)?).body(body).build();

        self.client
            .send_email()
            .from_email_address(&email.from)
            .destination(Destination::builder().to_addresses(email.to.as_str()).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|err| non_idempotent_error("SendEmail", err))?;
        Ok(())
    }
}
