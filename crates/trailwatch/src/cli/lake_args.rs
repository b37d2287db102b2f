//! Options shared by commands that use the lake: where it is and how to
//! reach S3 (`--profile`, `--region`, `--endpoint-url`).

use anyhow::{Context, Result};
use clap::Args;
use tokio::runtime::Handle;
use trailwatch_lake::store::{S3Options, Store};

use super::aws_args::AwsArgs;
use crate::config::Config;

#[derive(Debug, Clone, Args)]
pub struct LakeArgs {
    /// The lake: a local folder or s3://bucket/prefix. Default: the
    /// config's [lake] location, else the user's data directory (on Linux
    /// ~/.local/share/trailwatch/lake, or $XDG_DATA_HOME/trailwatch/lake).
    #[arg(long, value_name = "LAKE", env = "TRAILWATCH_LAKE")]
    pub lake: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl LakeArgs {
    /// `--lake`, else `$TRAILWATCH_LAKE`, else `[lake] location`, else the
    /// user's data directory.
    pub fn location(&self, cfg: &Config) -> Result<String> {
        Ok(cfg.lake_location(self.lake.as_deref())?.value)
    }

    /// `--profile`, `--region`, and `--endpoint-url` (else `[lake]
    /// endpoint_url`).
    pub fn s3_options(&self, cfg: &Config) -> S3Options {
        self.aws.options(cfg)
    }

    pub fn open(&self, cfg: &Config, handle: Handle) -> Result<Store> {
        let location = self.location(cfg)?;
        Store::open(&location, &self.s3_options(cfg), handle)
            .with_context(|| format!("opening the lake {location}"))
    }
}
