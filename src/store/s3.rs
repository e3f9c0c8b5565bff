//! The S3 backend: conditional writes with `If-None-Match: *` and `If-Match`, SSE AES256,
//! credentials and region from the standard AWS chain, and an endpoint override with path-style
//! addressing for S3-compatible servers.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use super::local::MAX_OBJECT_BYTES;
use super::{
    BucketProtections, ETag, Object, ObjectMeta, ObjectPage, ObjectStore, PutCondition, StoreError,
    validate_key,
};
use crate::domain::DocumentError;

/// Settings layered over the AWS chain (environment, profile files, instance roles).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Options {
    /// An S3-compatible server, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// A named profile from `~/.aws/config`.
    pub profile: Option<String>,
    /// `bucket` in the path rather than the host name; needed by most S3-compatible servers and
    /// implied by `endpoint` unless set to false explicitly.
    pub path_style: Option<bool>,
    /// Seconds to wait for a connection (default 5).
    pub connect_timeout_secs: Option<u64>,
    /// Seconds one call may take in all, retries included (default 60): a server that accepts
    /// connections and never answers fails the call instead of hanging it.
    pub operation_timeout_secs: Option<u64>,
}

/// See [`S3Options::connect_timeout_secs`].
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 5;
/// See [`S3Options::operation_timeout_secs`].
pub const DEFAULT_OPERATION_TIMEOUT_SECS: u64 = 60;

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
}

impl S3Store {
    /// Builds a client from the AWS chain plus `options`.
    pub async fn connect(bucket: String, prefix: String, options: &S3Options) -> Self {
        let shared =
            crate::aws::shared_config(options.profile.as_deref(), options.region.as_deref()).await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared);
        if let Some(endpoint) = &options.endpoint {
            config = config.endpoint_url(endpoint);
        }
        let path_style = options.path_style.unwrap_or(options.endpoint.is_some());
        config = config.force_path_style(path_style);
        let operation = std::time::Duration::from_secs(
            options
                .operation_timeout_secs
                .unwrap_or(DEFAULT_OPERATION_TIMEOUT_SECS)
                .max(1),
        );
        config = config.timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(
                    options
                        .connect_timeout_secs
                        .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS)
                        .max(1),
                ))
                .operation_timeout(operation)
                .build(),
        );
        Self::with_client(Client::from_conf(config.build()), bucket, prefix)
    }

    pub fn with_client(client: Client, bucket: String, prefix: String) -> Self {
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        S3Store {
            client,
            bucket,
            prefix,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn read_protections(&self) -> BucketProtections {
        let versioning = match self
            .client
            .get_bucket_versioning()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(answer) => Ok(answer.status().map(|s| s.as_str().to_string())),
            Err(err) => Err(self
                .backend_error("reading the versioning of", "the bucket", &err)
                .to_string()),
        };
        let encryption = match self
            .client
            .get_bucket_encryption()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(answer) => Ok(answer
                .server_side_encryption_configuration()
                .and_then(|config| config.rules().first())
                .and_then(|rule| rule.apply_server_side_encryption_by_default())
                .map(|default| default.sse_algorithm().as_str().to_string())),
            Err(err)
                if error_code(&err) == Some("ServerSideEncryptionConfigurationNotFoundError") =>
            {
                Ok(None)
            }
            Err(err) => Err(self
                .backend_error("reading the default encryption of", "the bucket", &err)
                .to_string()),
        };
        BucketProtections {
            encryption,
            versioning,
        }
    }

    fn full_key(&self, key: &str) -> Result<String, StoreError> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    fn backend_error<E>(&self, operation: &'static str, key: &str, err: &SdkError<E>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        StoreError::Backend {
            operation,
            key: key.to_string(),
            location: self.location(),
            message: describe(err),
            transient: is_transient(err),
        }
    }
}

/// One line: S3's error code and message for service errors (not the raw response), the
/// cause chain otherwise, and what to check.
fn describe<E>(err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (mut message, code) = match err {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let service = context.err();
            let text = match (service.code(), service.message()) {
                (Some(code), Some(text)) => format!("{code} (HTTP {status}): {text}"),
                (Some(code), None) => format!("{code} (HTTP {status})"),
                _ => format!("HTTP {status}"),
            };
            (text, service.code().map(String::from))
        }
        other => (crate::error_text::cause_chain(other), None),
    };
    let credentials_missing = message.contains("no credentials found");
    let region_missing = message.contains("region must be set");
    let hint = match (err, code.as_deref(), http_status(err)) {
        _ if credentials_missing => Some(
            "no AWS credentials: set AWS_PROFILE (or [s3] profile), run `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ),
        _ if region_missing => {
            Some("no AWS region: set AWS_REGION, TFPILOT_S3_REGION or [s3] region")
        }
        (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _, _) => {
            Some("is the endpoint reachable? check --store, TFPILOT_S3_ENDPOINT and your network")
        }
        (_, Some("NoSuchBucket"), _) => Some("check the bucket name in --store or TFPILOT_STORE"),
        (_, _, Some(403)) => {
            Some("access denied: check your AWS credentials, profile and the bucket policy")
        }
        (_, Some("PermanentRedirect" | "AuthorizationHeaderMalformed"), _) => {
            Some("the bucket is in another region: set TFPILOT_S3_REGION or [s3] region")
        }
        _ => None,
    };
    if let Some(hint) = hint {
        message.push_str(" (");
        message.push_str(hint);
        message.push(')');
    }
    message
}

/// What the SDK's own retries also treat as passing: no answer, a broken answer, a server
/// error, throttling. The SDK has already retried these; the caller decides whether to again.
fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => {
            http_status(err).is_some_and(|status| status >= 500)
                || matches!(
                    error_code(err),
                    Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestTimeout")
                )
        }
        _ => false,
    }
}

fn http_status<E>(err: &SdkError<E>) -> Option<u16> {
    match err {
        SdkError::ServiceError(context) => Some(context.raw().status().as_u16()),
        SdkError::ResponseError(context) => Some(context.raw().status().as_u16()),
        _ => None,
    }
}

fn error_code<E: ProvideErrorMetadata>(err: &SdkError<E>) -> Option<&str> {
    match err {
        SdkError::ServiceError(context) => context.err().code(),
        _ => None,
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn location(&self) -> String {
        let prefix = self.prefix.trim_end_matches('/');
        if prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{prefix}", self.bucket)
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let full = self.full_key(key)?;
        let response = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(response) => response,
            Err(err) if http_status(&err) == Some(404) || error_code(&err) == Some("NoSuchKey") => {
                return Ok(None);
            }
            Err(err) => return Err(self.backend_error("get", key, &err)),
        };
        let etag = ETag(response.e_tag().unwrap_or_default().to_string());
        let too_large = |size: u64| StoreError::Unreadable {
            key: key.to_string(),
            source: DocumentError::TooLarge {
                size,
                limit: MAX_OBJECT_BYTES,
            },
        };
        // Refused before reading when S3 says how large it is, and while reading when it does
        // not (or says less than it sends).
        if let Some(length) = response.content_length()
            && length as u64 > MAX_OBJECT_BYTES
        {
            return Err(too_large(length as u64));
        }
        let mut stream = response.body;
        let mut body = Vec::new();
        loop {
            let chunk = stream.try_next().await.map_err(|err| StoreError::Backend {
                operation: "get",
                key: key.to_string(),
                location: self.location(),
                message: format!("reading the body failed: {err}"),
                // The response broke off mid-body.
                transient: true,
            })?;
            let Some(chunk) = chunk else { break };
            body.extend_from_slice(&chunk);
            if body.len() as u64 > MAX_OBJECT_BYTES {
                return Err(too_large(body.len() as u64));
            }
        }
        Ok(Some(Object { body, etag }))
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<ETag, StoreError> {
        let full = self.full_key(key)?;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(body));
        request = match &condition {
            PutCondition::IfAbsent => request.if_none_match("*"),
            PutCondition::IfMatch(etag) => request.if_match(&etag.0),
        };
        match request.send().await {
            Ok(output) => Ok(ETag(output.e_tag().unwrap_or_default().to_string())),
            // 412: the condition failed; 409: a concurrent conditional write is in flight.
            Err(err) if matches!(http_status(&err), Some(412 | 409)) => Err(match condition {
                PutCondition::IfAbsent => StoreError::AlreadyExists {
                    key: key.to_string(),
                },
                PutCondition::IfMatch(_) => StoreError::PreconditionFailed {
                    key: key.to_string(),
                },
            }),
            Err(err)
                if http_status(&err) == Some(404)
                    && matches!(condition, PutCondition::IfMatch(_)) =>
            {
                Err(StoreError::NotFound {
                    key: key.to_string(),
                })
            }
            Err(err) => Err(self.backend_error("put", key, &err)),
        }
    }

    async fn protections(&self) -> Option<BucketProtections> {
        Some(self.read_protections().await)
    }

    async fn delete(&self, key: &str, if_match: Option<&ETag>) -> Result<(), StoreError> {
        let full = self.full_key(key)?;
        let mut request = self.client.delete_object().bucket(&self.bucket).key(&full);
        if let Some(etag) = if_match {
            request = request.if_match(&etag.0);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) if matches!(http_status(&err), Some(412 | 409)) => {
                Err(StoreError::PreconditionFailed {
                    key: key.to_string(),
                })
            }
            Err(err) if http_status(&err) == Some(404) => Err(StoreError::NotFound {
                key: key.to_string(),
            }),
            Err(err) => Err(self.backend_error("delete", key, &err)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        max_keys: usize,
    ) -> Result<ObjectPage, StoreError> {
        let max_keys = i32::try_from(max_keys.clamp(1, 1000)).unwrap_or(1000);
        let response = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}{prefix}", self.prefix))
            .set_continuation_token(continuation.map(String::from))
            .max_keys(max_keys)
            .send()
            .await
            .map_err(|err| self.backend_error("list", prefix, &err))?;
        let objects = response
            .contents()
            .iter()
            .filter_map(|object| {
                let key = object.key()?.strip_prefix(&self.prefix)?.to_string();
                Some(ObjectMeta {
                    key,
                    etag: ETag(object.e_tag().unwrap_or_default().to_string()),
                    size: object.size().unwrap_or_default().max(0) as u64,
                })
            })
            .collect();
        let next = if response.is_truncated().unwrap_or(false) {
            response.next_continuation_token().map(String::from)
        } else {
            None
        };
        Ok(ObjectPage { objects, next })
    }
}
