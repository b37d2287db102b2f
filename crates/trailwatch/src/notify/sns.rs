//! The `sns` sink: publish to an SNS topic through the AWS SDK, with the
//! SDK's credential chain as every AWS call of trailwatch resolves it
//! (`trailwatch_lake::aws`: `--profile`, environment, profiles with roles,
//! `credential_process`, SSO, web identity, ECS, instance metadata) and an
//! endpoint for SNS-compatible servers. The message is the JSON envelope the webhook
//! sends; the subject is the one-line summary; the alert id travels as
//! the `alert_id` message attribute and, on FIFO topics, as the
//! deduplication id, so SNS itself drops a repeat.

use anyhow::{Result, bail};
use async_trait::async_trait;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use tokio::sync::OnceCell;
use trailwatch_lake::aws::{AwsOptions, load, service_endpoint};

use super::message::Message;
use super::{SendError, Sink};

#[derive(Debug)]
pub struct Sns {
    topic_arn: String,
    region: String,
    /// Profile and endpoint override; the region is the topic's.
    aws: AwsOptions,
    client: OnceCell<aws_sdk_sns::Client>,
}

/// SNS subjects: ASCII, no line breaks, at most 100 characters.
fn sns_subject(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                ' '
            }
        })
        .collect();
    clean.chars().take(100).collect()
}

impl Sns {
    pub fn new(topic_arn: String, region: Option<String>, aws: AwsOptions) -> Result<Sns> {
        let parts: Vec<&str> = topic_arn.split(':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" {
            bail!(
                "sns sink: {topic_arn:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
            );
        }
        let region = region.unwrap_or_else(|| parts[3].to_string());
        Ok(Sns {
            topic_arn,
            region,
            aws,
            client: OnceCell::new(),
        })
    }

    async fn client(&self) -> &aws_sdk_sns::Client {
        self.client
            .get_or_init(|| async {
                // The topic's region, whatever --region says: a topic is
                // reached in the region its ARN names.
                let opts = AwsOptions {
                    region: Some(self.region.clone()),
                    ..self.aws.clone()
                };
                let shared = load(&opts).await;
                let mut conf = aws_sdk_sns::config::Builder::from(&shared);
                if let Some(e) = service_endpoint(&shared, &opts, "SNS") {
                    conf = conf.endpoint_url(e);
                }
                aws_sdk_sns::Client::from_conf(conf.build())
            })
            .await
    }
}

#[async_trait]
impl Sink for Sns {
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let body = String::from_utf8(message.envelope_json())
            .map_err(|e| SendError::permanent(e.to_string()))?;
        let key = message.key();
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&key)
            .build()
            .map_err(|e| SendError::permanent(e.to_string()))?;
        let mut publish = self
            .client()
            .await
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(sns_subject(&message.subject()))
            .message(body)
            .message_attributes("alert_id", attr);
        if self.topic_arn.ends_with(".fifo") {
            publish = publish
                .message_group_id("trailwatch")
                .message_deduplication_id(key.chars().take(128).collect::<String>());
        }
        match publish.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let message = format!("SNS publish: {}", DisplayErrorContext(&e));
                match status {
                    Some(429) | None => Err(SendError::transient(message)),
                    Some(s) if (400..500).contains(&s) && !message.contains("Throttl") => {
                        Err(SendError::permanent(message))
                    }
                    Some(_) => Err(SendError::transient(message)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_arns() {
        assert_eq!(sns_subject("[P1] Root — used\nnow"), "[P1] Root   used now");
        assert_eq!(sns_subject(&"x".repeat(300)).len(), 100);
        assert!(
            Sns::new(
                "arn:aws:sqs:us-east-1:1:q".into(),
                None,
                AwsOptions::default()
            )
            .is_err()
        );
        let s = Sns::new(
            "arn:aws:sns:eu-west-1:111122223333:alerts".into(),
            None,
            AwsOptions::default(),
        )
        .unwrap();
        assert_eq!(s.region, "eu-west-1");
    }
}
