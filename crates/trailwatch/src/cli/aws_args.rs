//! `--profile`, `--region` and `--endpoint-url`, as the AWS CLI has them,
//! for every command that talks to AWS (S3 sources and lakes, `verify`
//! over S3, SNS sinks). What they leave open the AWS SDK's own chains
//! resolve: see `trailwatch_lake::aws` and the README's "AWS access".

use clap::Args;
use trailwatch_lake::aws::AwsOptions;

use crate::config::Config;

#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// A named profile of the shared AWS config and credentials files
    /// (~/.aws/config, ~/.aws/credentials): keys, role_arn with
    /// source_profile, credential_process, SSO.
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// The AWS region. Otherwise AWS_DEFAULT_REGION, the profile's region,
    /// or instance metadata; none of them is an error.
    #[arg(long, value_name = "REGION", env = "AWS_REGION")]
    pub region: Option<String>,
    /// The endpoint of the service called (S3, or SNS for notifications),
    /// for S3- or SNS-compatible servers. Otherwise the config file's
    /// [lake] endpoint_url, else in the AWS SDK's order:
    /// AWS_ENDPOINT_URL_S3 (or _SNS), the profile's services section,
    /// AWS_ENDPOINT_URL, the profile's endpoint_url.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// The options for the SDK; `--endpoint-url` falls back to the config
    /// file's `[lake] endpoint_url`.
    pub fn options(&self, cfg: &Config) -> AwsOptions {
        AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint: cfg
                .endpoint_url(self.endpoint_url.as_deref())
                .map(|s| s.value),
        }
    }

    /// The options for the services `respond` calls: as for SNS, only the
    /// flag overrides their endpoints.
    pub fn service_options(&self) -> AwsOptions {
        self.sns_options()
    }

    /// The options for SNS sinks: the config file's `[lake] endpoint_url`
    /// is an S3 endpoint, so only the flag overrides SNS's.
    pub fn sns_options(&self) -> AwsOptions {
        AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint_url.clone(),
        }
    }
}
