//! AWS calls for respond: signed with SigV4 (the SDK's own `aws-sigv4`)
//! over the HTTP client trailwatch already has, with credentials from the
//! SDK's chain — or, per account, from a role assumed through it
//! (`[respond] role_arn`).
//!
//! Why not the SDK's service crates: respond makes about twenty calls to
//! five services, and the crates for those services (EC2's above all) add
//! more build time than the rest of the binary (docs/benchmarks.md,
//! "Respond's AWS calls"). Each service's wire protocol here is the small
//! part respond uses: the query protocol (EC2, IAM), REST-XML (S3),
//! JSON 1.1 (CloudTrail) and REST-JSON (GuardDuty).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_types::SdkConfig;
use serde_json::Value;
use tokio::sync::Mutex;
use trailwatch_core::terminal::error_line;
use trailwatch_lake::aws::{AwsOptions, SdkCredentials, load, service_endpoint};

use super::xml::Node;

/// Why a call failed: AWS's error code and message, or the transport's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CallError {
    /// AWS's code (`AccessDenied`, `NoSuchEntity`, …), or `Transport`,
    /// `Credentials`, `BadResponse`.
    pub code: String,
    pub message: String,
}

impl CallError {
    fn new(code: &str, message: impl Into<String>) -> CallError {
        CallError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The resource named is not there (any service's way of saying so).
    pub fn is_gone(&self) -> bool {
        [
            "NoSuchEntity",
            "NoSuchBucket",
            "InvalidGroup.NotFound",
            "TrailNotFoundException",
            // GuardDuty's answer for a detector id the account does not
            // have (it has no not-found code of its own).
            "BadRequestException",
            "NotFound",
            "ResourceNotFoundException",
        ]
        .contains(&self.code.as_str())
    }

    fn is_throttling(&self) -> bool {
        [
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "SlowDown",
            "TooManyRequestsException",
            "RequestThrottled",
            "Transport",
            "ServiceUnavailable",
            "InternalError",
        ]
        .contains(&self.code.as_str())
    }
}

/// An answer: XML (query and REST-XML services) or JSON.
#[derive(Debug)]
pub enum Reply {
    Xml(Node),
    Json(Value),
}

impl Reply {
    pub fn xml(&self) -> Option<&Node> {
        match self {
            Reply::Xml(n) => Some(n),
            Reply::Json(_) => None,
        }
    }

    pub fn json(&self) -> &Value {
        match self {
            Reply::Json(v) => v,
            Reply::Xml(_) => &Value::Null,
        }
    }
}

/// A request before signing.
struct Request {
    method: &'static str,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// What a path segment keeps as it is (RFC 3986's unreserved characters):
/// S3 signs the path it decodes, so nothing else may be escaped.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Attempts for a throttled call, and the first wait (doubled each time).
const ATTEMPTS: u32 = 4;
const FIRST_WAIT: Duration = Duration::from_millis(250);

/// The SDK's configuration and one credential provider per account.
pub struct Aws {
    opts: AwsOptions,
    sdk: SdkConfig,
    /// `[respond] role_arn`, with `{account}` for the account.
    role_arn: Option<String>,
    http: reqwest::Client,
    /// One cached credential source per role (the empty role: the chain's own).
    providers: Mutex<HashMap<String, Arc<SdkCredentials>>>,
}

impl std::fmt::Debug for Aws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aws")
            .field("opts", &self.opts)
            .field("role_arn", &self.role_arn)
            .finish()
    }
}

/// A service's endpoint prefix to the id the SDK's endpoint settings use
/// (`AWS_ENDPOINT_URL_<ID>`, a profile's `services` section).
fn service_id(service: &str) -> &'static str {
    match service {
        "s3" => "S3",
        "ec2" => "EC2",
        "iam" => "IAM",
        "cloudtrail" => "CloudTrail",
        _ => "GuardDuty",
    }
}

impl Aws {
    /// Load the SDK's configuration (the chain the AWS CLI uses).
    pub async fn new(opts: AwsOptions, role_arn: Option<String>) -> Result<Aws, CallError> {
        let mut sdk = load(&opts).await;
        if let Some(e) = &opts.endpoint {
            // STS (for assumed roles) goes to the same endpoint.
            sdk = sdk.to_builder().endpoint_url(e.clone()).build();
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CallError::new("Transport", error_line(&e)))?;
        Ok(Aws {
            opts,
            sdk,
            role_arn,
            http,
            providers: Mutex::new(HashMap::new()),
        })
    }

    /// The region to call when an action has none (IAM is global).
    fn default_region(&self) -> String {
        self.sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into())
    }

    /// Credentials for `account`: the chain's own, or the role
    /// `[respond] role_arn` names for the account, assumed through it.
    /// Each is cached until shortly before it expires
    /// ([`SdkCredentials`], as for S3), and a missing one says where the
    /// chain looked.
    async fn credentials(&self, account: Option<&str>) -> Result<Credentials, CallError> {
        let role = match (&self.role_arn, account) {
            (Some(role), Some(acct)) => role.replace("{account}", acct),
            (Some(role), None) if !role.contains("{account}") => role.clone(),
            _ => String::new(),
        };
        let source = {
            let mut providers = self.providers.lock().await;
            match providers.get(&role) {
                Some(p) => p.clone(),
                None => {
                    let provider = if role.is_empty() {
                        self.sdk.credentials_provider()
                    } else {
                        Some(SharedCredentialsProvider::new(
                            AssumeRoleProvider::builder(role.clone())
                                .session_name("trailwatch-respond")
                                .configure(&self.sdk)
                                .build()
                                .await,
                        ))
                    };
                    let name = self
                        .opts
                        .profile
                        .clone()
                        .unwrap_or_else(|| "default".into());
                    let p = Arc::new(SdkCredentials::new(provider, name));
                    providers.insert(role.clone(), p.clone());
                    p
                }
            }
        };
        let c = source.fetch().await.map_err(|e| {
            let what = if role.is_empty() {
                String::new()
            } else {
                format!("assuming {role}: ")
            };
            CallError::new("Credentials", format!("{what}{}", error_line(&e)))
        })?;
        Ok(Credentials::new(
            c.key_id.clone(),
            c.secret_key.clone(),
            c.token.clone(),
            None,
            "trailwatch",
        ))
    }

    /// The endpoint and signing region of a service in a region.
    fn endpoint(&self, service: &str, region: &str) -> (String, String) {
        let configured = service_endpoint(&self.sdk, &self.opts, service_id(service));
        let signing_region = if service == "iam" {
            "us-east-1"
        } else {
            region
        };
        let url = configured.unwrap_or_else(|| match service {
            "iam" => "https://iam.amazonaws.com".into(),
            other => format!("https://{other}.{region}.amazonaws.com"),
        });
        (url.trim_end_matches('/').to_string(), signing_region.into())
    }

    /// Is the S3 endpoint AWS's own (virtual-hosted buckets) or another
    /// server's (path-style, as S3-compatible servers expect)?
    fn s3_path_style(&self) -> bool {
        service_endpoint(&self.sdk, &self.opts, "S3").is_some()
    }

    /// Sign and send, retrying throttling and transport errors.
    async fn send(
        &self,
        service: &str,
        region: &str,
        account: Option<&str>,
        build: impl Fn(&str) -> Request,
    ) -> Result<(u16, Vec<(String, String)>, Vec<u8>), CallError> {
        let (base, signing_region) = self.endpoint(service, region);
        let mut wait = FIRST_WAIT;
        let mut attempt = 1;
        loop {
            let creds = self.credentials(account).await?;
            let req = build(&base);
            let result = self.send_once(service, &signing_region, &creds, req).await;
            match result {
                Err(e) if e.is_throttling() && attempt < ATTEMPTS => {
                    tracing::debug!(service, code = %e.code, attempt, "retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        service: &str,
        signing_region: &str,
        creds: &Credentials,
        req: Request,
    ) -> Result<(u16, Vec<(String, String)>, Vec<u8>), CallError> {
        let mut settings = SigningSettings::default();
        if service == "s3" {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let identity = creds.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(signing_region)
            .name(service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| CallError::new("Signing", e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            req.method,
            &req.url,
            req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(&req.body),
        )
        .map_err(|e| CallError::new("Signing", e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| CallError::new("Signing", e.to_string()))?
            .into_parts();
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|e| CallError::new("Signing", e.to_string()))?;
        let mut http = self.http.request(method, &req.url);
        for (k, v) in &req.headers {
            http = http.header(k, v);
        }
        for (k, v) in instructions.headers() {
            http = http.header(k, v);
        }
        let resp = http
            .body(req.body)
            .send()
            .await
            .map_err(|e| CallError::new("Transport", error_line(&e)))?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp
            .bytes()
            .await
            .map_err(|e| CallError::new("Transport", error_line(&e)))?
            .to_vec();
        if status >= 300 {
            return Err(error_of(status, &headers, &body));
        }
        Ok((status, headers, body))
    }

    /// A query-protocol call (EC2, IAM): form parameters, XML answer.
    pub async fn query(
        &self,
        service: &str,
        region: Option<&str>,
        account: Option<&str>,
        operation: &str,
        params: &Value,
    ) -> Result<Reply, CallError> {
        let version = if service == "ec2" {
            "2016-11-15"
        } else {
            "2010-05-08"
        };
        let mut form = vec![
            ("Action".to_string(), operation.to_string()),
            ("Version".to_string(), version.to_string()),
        ];
        flatten(service == "ec2", "", params, &mut form);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish()
            .into_bytes();
        let region = region.map_or_else(|| self.default_region(), str::to_string);
        let (_, _, out) = self
            .send(service, &region, account, |base| Request {
                method: "POST",
                url: format!("{base}/"),
                headers: vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded; charset=utf-8".into(),
                )],
                body: body.clone(),
            })
            .await?;
        xml_reply(&out)
    }

    /// A CloudTrail call (JSON 1.1).
    pub async fn cloudtrail(
        &self,
        region: &str,
        account: Option<&str>,
        operation: &str,
        params: &Value,
    ) -> Result<Reply, CallError> {
        let body = params.to_string().into_bytes();
        let target = format!("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{operation}");
        let (_, _, out) = self
            .send("cloudtrail", region, account, |base| Request {
                method: "POST",
                url: format!("{base}/"),
                headers: vec![
                    ("content-type".into(), "application/x-amz-json-1.1".into()),
                    ("x-amz-target".into(), target.clone()),
                ],
                body: body.clone(),
            })
            .await?;
        json_reply(&out)
    }

    /// A GuardDuty call (REST-JSON): `path` under the endpoint.
    pub async fn guardduty(
        &self,
        region: &str,
        account: Option<&str>,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, CallError> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (_, _, out) = self
            .send("guardduty", region, account, |base| Request {
                method,
                url: format!("{base}{path}"),
                headers: if body.is_some() {
                    vec![("content-type".into(), "application/json".into())]
                } else {
                    Vec::new()
                },
                body: bytes.clone(),
            })
            .await?;
        json_reply(&out)
    }

    /// An S3 bucket sub-resource call (REST-XML), e.g. `?publicAccessBlock`.
    pub async fn s3_bucket(
        &self,
        region: &str,
        account: Option<&str>,
        method: &'static str,
        bucket: &str,
        subresource: &str,
        body: Option<String>,
    ) -> Result<Reply, CallError> {
        let path_style = self.s3_path_style();
        let bucket_path = percent_encoding::utf8_percent_encode(bucket, UNRESERVED).to_string();
        let bytes = body.map(String::into_bytes).unwrap_or_default();
        let md5 = {
            use base64::Engine;
            use md5::{Digest, Md5};
            base64::engine::general_purpose::STANDARD.encode(Md5::digest(&bytes))
        };
        let (_, _, out) = self
            .send("s3", region, account, |base| {
                let url = if path_style || bucket.contains('.') {
                    format!("{base}/{bucket_path}?{subresource}")
                } else {
                    // https://s3.REGION.amazonaws.com → https://BUCKET.s3.REGION.amazonaws.com
                    let host = base.strip_prefix("https://").unwrap_or(base);
                    format!("https://{bucket}.{host}/?{subresource}")
                };
                let mut headers = Vec::new();
                if !bytes.is_empty() {
                    headers.push(("content-type".into(), "application/xml".into()));
                    // S3 asks for a checksum of configuration bodies.
                    headers.push(("content-md5".into(), md5.clone()));
                }
                Request {
                    method,
                    url,
                    headers,
                    body: bytes.clone(),
                }
            })
            .await?;
        xml_reply(&out)
    }
}

fn xml_reply(body: &[u8]) -> Result<Reply, CallError> {
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        return Ok(Reply::Xml(Node::default()));
    }
    Node::parse(&text)
        .map(Reply::Xml)
        .map_err(|e| CallError::new("BadResponse", format!("unreadable XML answer: {e}")))
}

fn json_reply(body: &[u8]) -> Result<Reply, CallError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Reply::Json(Value::Null));
    }
    serde_json::from_slice(body)
        .map(Reply::Json)
        .map_err(|e| CallError::new("BadResponse", format!("unreadable JSON answer: {e}")))
}

/// AWS's error from a failed answer: `<Error><Code>` (XML services),
/// `__type` or `x-amzn-ErrorType` (JSON ones), else the HTTP status.
fn error_of(status: u16, headers: &[(String, String)], body: &[u8]) -> CallError {
    let text = String::from_utf8_lossy(body);
    if let Ok(node) = Node::parse(&text)
        && let Some(code) = node.text_of("Code")
    {
        return CallError::new(code, node.text_of("Message").unwrap_or_default());
    }
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let header_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-errortype"))
        .map(|(_, v)| v.as_str());
    let code = json
        .get("__type")
        .and_then(Value::as_str)
        .or(header_type)
        .map(|t| {
            // `aws.protocoltests#ThrottlingException`, `Name:http://…`
            let t = t.rsplit('#').next().unwrap_or(t);
            t.split(':').next().unwrap_or(t).to_string()
        });
    let message = ["message", "Message"]
        .iter()
        .find_map(|k| json.get(k).and_then(Value::as_str))
        .unwrap_or_default();
    match code {
        Some(c) => CallError::new(&c, message),
        None => CallError::new(
            match status {
                429 => "Throttling",
                503 => "ServiceUnavailable",
                500 => "InternalError",
                _ => "HttpError",
            },
            format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            ),
        ),
    }
}

/// A structure as query parameters: `A.B`, lists as `A.1` (EC2) or
/// `A.member.1` (IAM and other query services).
fn flatten(ec2: bool, prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(ec2, &join(k), v, out);
            }
        }
        Value::Array(list) => {
            for (i, v) in list.iter().enumerate() {
                let key = if ec2 {
                    format!("{prefix}.{}", i + 1)
                } else {
                    format!("{prefix}.member.{}", i + 1)
                };
                flatten(ec2, &key, v, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Null => {}
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ec2_permissions_flatten_to_numbered_query_parameters() {
        let mut out = Vec::new();
        flatten(
            true,
            "",
            &json!({"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}),
            &mut out,
        );
        let text: Vec<String> = out.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            text,
            [
                "GroupId=sg-1",
                "IpPermissions.1.FromPort=22",
                "IpPermissions.1.IpProtocol=tcp",
                "IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0",
                "IpPermissions.1.ToPort=22"
            ]
        );
        let mut iam = Vec::new();
        flatten(false, "", &json!({"Names": ["a", "b"]}), &mut iam);
        assert_eq!(iam[1], ("Names.member.2".to_string(), "b".to_string()));
    }

    /// A server answering `codes` in turn (then 200), counting requests.
    fn answering(codes: &'static [u16]) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = [0u8; 65536];
                let _ = stream.read(&mut buf);
                let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (status, body) = match codes.get(n) {
                    Some(&c) => (
                        c,
                        "<ErrorResponse><Error><Code>Throttling</Code><Message>slow down</Message></Error></ErrorResponse>",
                    ),
                    None => (
                        200,
                        "<ListUsersResponse><ListUsersResult/></ListUsersResponse>",
                    ),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, seen)
    }

    fn aws_at(url: &str) -> Aws {
        let creds = Credentials::new("AKIDTEST", "secret", None, None, "test");
        Aws {
            opts: AwsOptions {
                endpoint: Some(url.to_string()),
                ..AwsOptions::default()
            },
            sdk: SdkConfig::builder()
                .credentials_provider(SharedCredentialsProvider::new(creds))
                .region(aws_types::region::Region::new("us-east-1"))
                .behavior_version(aws_config::BehaviorVersion::latest())
                .build(),
            role_arn: None,
            http: reqwest::Client::new(),
            providers: Mutex::new(HashMap::new()),
        }
    }

    #[tokio::test]
    async fn throttling_is_retried_and_reported_after_the_last_attempt() {
        let (url, seen) = answering(&[503, 400]);
        let aws = aws_at(&url);
        aws.query("iam", None, None, "ListUsers", &json!({}))
            .await
            .expect("third time lucky");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
        let (url, seen) = answering(&[400, 400, 400, 400, 400]);
        let err = aws_at(&url)
            .query("iam", None, None, "ListUsers", &json!({}))
            .await
            .expect_err("throttled throughout");
        assert_eq!(err.code, "Throttling");
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            ATTEMPTS as usize
        );
    }

    #[test]
    fn errors_are_read_from_xml_json_and_headers() {
        let xml = error_of(403, &[], b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>");
        assert_eq!(
            (xml.code.as_str(), xml.message.as_str()),
            ("AccessDenied", "no")
        );
        let json = error_of(
            400,
            &[],
            br#"{"__type":"com.amazonaws#TrailNotFoundException","message":"gone"}"#,
        );
        assert_eq!(json.code, "TrailNotFoundException");
        assert!(json.is_gone());
        let header = error_of(
            400,
            &[(
                "X-Amzn-ErrorType".into(),
                "BadRequestException:http://x".into(),
            )],
            b"{}",
        );
        assert_eq!(header.code, "BadRequestException");
        let throttled = error_of(429, &[], b"");
        assert!(throttled.is_throttling());
    }
}
