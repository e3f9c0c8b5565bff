//! AWS SSM Parameter Store: each value a `SecureString` (encrypted with the account's default
//! key for SSM, or the KMS key configured).

use async_trait::async_trait;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::ParameterType;
use serde::{Deserialize, Serialize};

use super::{SecretError, SecretStore};

/// `[secrets]` in the config: the AWS chain decides what is not given here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SsmOptions {
    /// An SSM-compatible endpoint instead of AWS (a test server).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    /// The KMS key (id, alias or ARN) that encrypts the parameters; default the account's
    /// `alias/aws/ssm`.
    pub kms_key_id: Option<String>,
}

pub struct SsmSecrets {
    client: Client,
    kms_key_id: Option<String>,
    region: String,
}

/// Seconds to connect and for one call, as for S3.
const CONNECT_TIMEOUT_SECS: u64 = 5;
const OPERATION_TIMEOUT_SECS: u64 = 60;

impl SsmSecrets {
    pub async fn connect(options: &SsmOptions) -> Self {
        let shared =
            crate::aws::shared_config(options.profile.as_deref(), options.region.as_deref()).await;
        let region = shared
            .region()
            .map_or_else(|| "no region".to_string(), ToString::to_string);
        let mut config = aws_sdk_ssm::config::Builder::from(&shared).timeout_config(
            aws_sdk_ssm::config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(CONNECT_TIMEOUT_SECS))
                .operation_timeout(std::time::Duration::from_secs(OPERATION_TIMEOUT_SECS))
                .build(),
        );
        if let Some(endpoint) = &options.endpoint {
            config = config.endpoint_url(endpoint);
        }
        SsmSecrets {
            client: Client::from_conf(config.build()),
            kms_key_id: options.kms_key_id.clone(),
            region,
        }
    }
}

#[async_trait]
impl SecretStore for SsmSecrets {
    async fn put(&self, name: &str, value: &str) -> Result<u64, SecretError> {
        let answer = self
            .client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .set_key_id(self.kms_key_id.clone())
            .overwrite(true)
            .description("written by tfpilot; the request's Terraform module reads it")
            .send()
            .await
            .map_err(|error| SecretError::Write {
                name: name.to_string(),
                store: self.describe(),
                message: describe_error(&error),
            })?;
        Ok(u64::try_from(answer.version()).unwrap_or_default())
    }

    async fn delete(&self, name: &str) -> Result<(), SecretError> {
        match self.client.delete_parameter().name(name).send().await {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("ParameterNotFound") => Ok(()),
            Err(error) => Err(SecretError::Delete {
                name: name.to_string(),
                store: self.describe(),
                message: describe_error(&error),
            }),
        }
    }

    fn describe(&self) -> String {
        format!("SSM Parameter Store ({})", self.region)
    }
}

/// The service's code and message, or the transport's reason: never the request, which
/// carries the value.
fn describe_error<E: ProvideErrorMetadata + std::error::Error>(error: &E) -> String {
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => {
            let mut text = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}
