//! Options shared by commands that use the lake: where it is and how to
//! reach S3.

use anyhow::{Context, Result};
use clap::Args;
use tokio::runtime::{Handle, Runtime};
use trailwatch_lake::store::{S3Options, Store};

#[derive(Debug, Clone, Args)]
pub struct LakeArgs {
    /// The lake: a local folder or s3://bucket/prefix. Default: the
    /// TRAILWATCH_LAKE environment variable, else the user's data directory
    /// (on Linux ~/.local/share/trailwatch/lake, or $XDG_DATA_HOME/trailwatch/lake).
    #[arg(long, value_name = "LAKE")]
    pub lake: Option<String>,
    /// S3 endpoint (for S3-compatible servers); also AWS_ENDPOINT_URL.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl LakeArgs {
    pub fn location(&self) -> Result<String> {
        if let Some(l) = &self.lake {
            return Ok(l.clone());
        }
        if let Ok(l) = std::env::var("TRAILWATCH_LAKE")
            && !l.is_empty()
        {
            return Ok(l);
        }
        let dir =
            dirs::data_dir().context("no data directory for the default lake; pass --lake")?;
        Ok(dir.join("trailwatch/lake").display().to_string())
    }

    pub fn s3_options(&self) -> S3Options {
        S3Options {
            endpoint: self.endpoint_url.clone(),
        }
    }

    pub fn open(&self, handle: Handle) -> Result<Store> {
        let location = self.location()?;
        Store::open(&location, &self.s3_options(), handle)
            .with_context(|| format!("opening the lake {location}"))
    }
}

/// The async runtime for object storage; CPU work stays on rayon.
pub fn runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
