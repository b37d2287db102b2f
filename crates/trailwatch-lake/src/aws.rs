//! AWS settings resolved as the AWS CLI and SDKs resolve them: region,
//! credentials and endpoint come from the SDK's own default chains
//! (`aws-config`): environment, the shared config and credentials files
//! (static keys, `role_arn` with `source_profile` or `credential_source`,
//! `credential_process`, IAM Identity Center sessions), web identity
//! tokens, container and instance metadata. Flags (`--profile`,
//! `--region`, `--endpoint-url`) come first, as in the AWS CLI.
//!
//! S3 is reached through `object_store`, which gets the SDK's credentials
//! through [`SdkCredentials`]: cached until shortly before they expire,
//! then fetched again, so a `watch` that runs for days keeps working.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_types::SdkConfig;
use aws_types::service_config::ServiceConfigKey;
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;
use trailwatch_core::terminal::error_line;

/// What the user chose on the command line (or in trailwatch's config);
/// everything left `None` is resolved by the SDK's chains.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AwsOptions {
    /// `--profile` (the SDK also reads `AWS_PROFILE`).
    pub profile: Option<String>,
    /// `--region` (the SDK also reads `AWS_REGION`, `AWS_DEFAULT_REGION`,
    /// the profile's `region` and instance metadata).
    pub region: Option<String>,
    /// `--endpoint-url`: wins over every configured endpoint, for the
    /// service called (S3 or SNS), as in the AWS CLI.
    pub endpoint: Option<String>,
}

/// Why AWS could not be reached; says which settings were looked at.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "no AWS region: looked at --region, AWS_REGION, AWS_DEFAULT_REGION, `region` in profile {profile} of the shared config file ({config}), and instance metadata; set one of them"
    )]
    NoRegion { profile: String, config: String },
    #[error(
        "no AWS credentials: looked at AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile {profile} in the shared credentials and config files ({credentials}, {config}: keys, role_arn, credential_process, sso_session), AWS_WEB_IDENTITY_TOKEN_FILE, container credentials and instance metadata; {detail}"
    )]
    NoCredentials {
        profile: String,
        credentials: String,
        config: String,
        detail: String,
    },
    #[error("AWS credentials of profile {profile}: {detail}")]
    Credentials { profile: String, detail: String },
    #[error("starting the AWS configuration runtime: {0}")]
    Runtime(std::io::Error),
}

/// Load the SDK configuration for these options (async: the chains may
/// call STS, SSO or instance metadata).
pub async fn load(opts: &AwsOptions) -> SdkConfig {
    // rustls on ring, like the rest of trailwatch (the SDK's default
    // client would build aws-lc from C).
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &opts.region {
        loader = loader.region(Region::new(r.clone()));
    }
    loader.load().await
}

/// The profile the chains read: `--profile`, else `AWS_PROFILE`, else
/// `default` (for messages).
fn profile_name(opts: &AwsOptions) -> String {
    opts.profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".into())
}

fn shared_file(env: &str, rel: &str) -> String {
    match std::env::var(env) {
        Ok(p) if !p.is_empty() => p,
        _ => format!("~/{rel}"),
    }
}

/// The region the SDK resolved, or an error naming where it looked.
pub fn region(sdk: &SdkConfig, opts: &AwsOptions) -> Result<String, AwsError> {
    sdk.region()
        .map(|r| r.to_string())
        .ok_or_else(|| AwsError::NoRegion {
            profile: profile_name(opts),
            config: shared_file("AWS_CONFIG_FILE", ".aws/config"),
        })
}

/// The endpoint for one service, in the order the SDK's generated clients
/// use: `--endpoint-url`; then the service's own setting
/// (`AWS_ENDPOINT_URL_<SERVICE>`, the profile's `services` section); then
/// the global one (`AWS_ENDPOINT_URL`, the profile's `endpoint_url`).
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` turns the configured ones off.
pub fn service_endpoint(sdk: &SdkConfig, opts: &AwsOptions, service_id: &str) -> Option<String> {
    if let Some(e) = &opts.endpoint {
        return Some(e.clone());
    }
    let key = ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    sdk.service_config()
        .and_then(|c| c.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_string))
}

/// A loaded configuration for S3 through `object_store`.
#[derive(Debug, Clone)]
pub struct S3Access {
    pub region: String,
    pub endpoint: Option<String>,
    pub credentials: Arc<SdkCredentials>,
}

/// Loaded configurations by options: a command opens several stores (a
/// source bucket, the lake) and each would otherwise run the chains again
/// (a `credential_process` helper, an STS call).
fn loaded() -> &'static Mutex<HashMap<AwsOptions, S3Access>> {
    static LOADED: OnceLock<Mutex<HashMap<AwsOptions, S3Access>>> = OnceLock::new();
    LOADED.get_or_init(Mutex::default)
}

/// Region, endpoint and credentials for S3, checked now so a missing
/// setting is reported before any work starts.
///
/// Blocking: it runs the SDK's chains on a runtime of its own, on a thread
/// of its own, so it can be called from plain threads and from inside an
/// async runtime alike (stores are opened from both).
pub fn s3_access(opts: &AwsOptions) -> Result<S3Access, AwsError> {
    if let Some(a) = loaded().lock().unwrap_or_else(|e| e.into_inner()).get(opts) {
        return Ok(a.clone());
    }
    let owned = opts.clone();
    let access = std::thread::scope(|s| {
        s.spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(AwsError::Runtime)?;
            rt.block_on(async {
                let sdk = load(&owned).await;
                let region = region(&sdk, &owned)?;
                let endpoint = service_endpoint(&sdk, &owned, "S3");
                let credentials = Arc::new(SdkCredentials::new(
                    sdk.credentials_provider(),
                    profile_name(&owned),
                ));
                credentials.fetch().await?;
                Ok(S3Access {
                    region,
                    endpoint,
                    credentials,
                })
            })
        })
        .join()
        .unwrap_or_else(|_| {
            Err(AwsError::Credentials {
                profile: profile_name(opts),
                detail: "the credential chain panicked".into(),
            })
        })
    })?;
    loaded()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(opts.clone(), access.clone());
    Ok(access)
}

/// Fetch again when this little time is left; the SDK's own cache uses a
/// similar margin, and requests signed just before expiry still land.
const REFRESH_BEFORE: Duration = Duration::from_secs(60);

/// The SDK's credential chain as an `object_store` credential provider,
/// with a cache that refreshes before expiry.
#[derive(Debug)]
pub struct SdkCredentials {
    provider: Option<SharedCredentialsProvider>,
    profile: String,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

#[derive(Debug, Clone)]
struct Cached {
    credential: Arc<AwsCredential>,
    expiry: Option<SystemTime>,
}

impl Cached {
    /// Far enough from expiry to be used without fetching again.
    fn fresh_at(&self, now: SystemTime) -> bool {
        self.expiry.is_none_or(|e| e > now + REFRESH_BEFORE)
    }

    /// Not expired yet.
    fn valid_at(&self, now: SystemTime) -> bool {
        self.expiry.is_none_or(|e| e > now)
    }
}

impl SdkCredentials {
    pub fn new(provider: Option<SharedCredentialsProvider>, profile: String) -> SdkCredentials {
        SdkCredentials {
            provider,
            profile,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The current credentials, fetched again when they are close to
    /// expiring; one fetch at a time, other callers wait for it.
    pub async fn fetch(&self) -> Result<Arc<AwsCredential>, AwsError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.fresh_at(SystemTime::now())
        {
            return Ok(c.credential.clone());
        }
        let no_credentials = |detail: String| AwsError::NoCredentials {
            profile: self.profile.clone(),
            credentials: shared_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
            config: shared_file("AWS_CONFIG_FILE", ".aws/config"),
            detail,
        };
        let Some(provider) = &self.provider else {
            return Err(no_credentials("no credential chain".into()));
        };
        let creds = match provider.provide_credentials().await {
            Ok(c) => c,
            Err(e) => {
                // A refresh that failed (STS unreachable for a moment)
                // while the keys in hand are still valid: use them, and
                // try again on the next request.
                if let Some(c) = cached.as_ref().filter(|c| c.valid_at(SystemTime::now())) {
                    tracing::warn!(
                        profile = %self.profile,
                        "refreshing AWS credentials failed; the current ones are still valid: {}",
                        error_line(&e)
                    );
                    return Ok(c.credential.clone());
                }
                return Err(match e {
                    CredentialsError::CredentialsNotLoaded(_) => no_credentials(error_line(&e)),
                    other => AwsError::Credentials {
                        profile: self.profile.clone(),
                        detail: error_line(&other),
                    },
                });
            }
        };
        let fresh = Cached {
            credential: Arc::new(AwsCredential {
                key_id: creds.access_key_id().to_string(),
                secret_key: creds.secret_access_key().to_string(),
                token: creds.session_token().map(str::to_string),
            }),
            expiry: creds.expiry(),
        };
        tracing::debug!(profile = %self.profile, expiry = ?fresh.expiry, "AWS credentials fetched");
        *cached = Some(fresh.clone());
        Ok(fresh.credential)
    }
}

#[async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        self.fetch()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::future;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Hands out numbered keys that expire `lifetime` after they are made.
    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        lifetime: Option<Duration>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let expiry = self.lifetime.map(|l| SystemTime::now() + l);
            future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("KEY{n}"),
                "secret",
                None,
                expiry,
                "test",
            )))
        }
    }

    fn counting(lifetime: Option<Duration>) -> (Arc<AtomicUsize>, SdkCredentials) {
        let calls = Arc::new(AtomicUsize::new(0));
        let provider = SharedCredentialsProvider::new(Counting {
            calls: calls.clone(),
            lifetime,
        });
        (calls, SdkCredentials::new(Some(provider), "test".into()))
    }

    #[tokio::test]
    async fn credentials_are_reused_until_close_to_expiry_then_fetched_again() {
        // Long-lived: one fetch serves every request.
        let (calls, creds) = counting(Some(Duration::from_secs(3600)));
        for _ in 0..5 {
            assert_eq!(creds.fetch().await.expect("creds").key_id, "KEY0");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Static keys (no expiry) are never fetched again.
        let (calls, creds) = counting(None);
        creds.fetch().await.expect("creds");
        creds.fetch().await.expect("creds");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Inside the refresh margin: each request gets new keys.
        let (calls, creds) = counting(Some(REFRESH_BEFORE / 2));
        assert_eq!(creds.fetch().await.expect("creds").key_id, "KEY0");
        assert_eq!(creds.fetch().await.expect("creds").key_id, "KEY1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    /// Keys valid for `lifetime`, then every later call fails.
    #[derive(Debug)]
    struct FailsAfterFirst {
        calls: Arc<AtomicUsize>,
        lifetime: Duration,
    }

    impl ProvideCredentials for FailsAfterFirst {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                let expiry = SystemTime::now() + self.lifetime;
                future::ProvideCredentials::ready(Ok(Credentials::new(
                    "KEY0",
                    "secret",
                    None,
                    Some(expiry),
                    "test",
                )))
            } else {
                future::ProvideCredentials::ready(Err(CredentialsError::provider_error(
                    "STS unreachable",
                )))
            }
        }
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_valid_keys_and_reports_expired_ones() {
        let calls = Arc::new(AtomicUsize::new(0));
        let creds = SdkCredentials::new(
            Some(SharedCredentialsProvider::new(FailsAfterFirst {
                calls: calls.clone(),
                lifetime: REFRESH_BEFORE / 2,
            })),
            "test".into(),
        );
        assert_eq!(creds.fetch().await.expect("first").key_id, "KEY0");
        // Inside the margin, the refresh fails: the still-valid keys serve.
        assert_eq!(creds.fetch().await.expect("kept").key_id, "KEY0");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Expired keys are not served: the refresh's error is.
        let calls = Arc::new(AtomicUsize::new(0));
        let creds = SdkCredentials::new(
            Some(SharedCredentialsProvider::new(FailsAfterFirst {
                calls,
                lifetime: Duration::ZERO,
            })),
            "test".into(),
        );
        creds.fetch().await.expect("first");
        let err = creds.fetch().await.expect_err("expired").to_string();
        assert!(err.contains("STS unreachable"), "{err}");
    }

    #[tokio::test]
    async fn no_chain_is_an_error_that_says_where_it_looked() {
        let creds = SdkCredentials::new(None, "audit".into());
        let text = creds.fetch().await.expect_err("no credentials").to_string();
        assert!(text.contains("profile audit"), "{text}");
        assert!(text.contains("AWS_ACCESS_KEY_ID"), "{text}");
        assert!(text.contains("credential_process"), "{text}");
    }
}
