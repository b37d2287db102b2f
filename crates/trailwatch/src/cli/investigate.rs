//! `trailwatch investigate`: from one key, principal, session, address or
//! alert to the whole story — every credential it minted, everything they
//! did, touched, created and turned off — over the lake or raw files.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Args};
use trailwatch_core::correlate::geo::GeoIp;
use trailwatch_core::investigate::{DEFAULT_DEPTH, Subject};

use super::ReadArgs;
use super::lake_args::LakeArgs;
use crate::config::{Config, DetectFlags, DetectSettings};
use crate::investigate::render::{Format, write};
use crate::investigate::{Files, Request, Window, investigate};
use crate::timespec::parse_time;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("subject").required(true).args(["access_key", "principal", "session", "ip", "alert"])))]
pub struct InvestigateArgs {
    /// Start from one access key (AKIA… or ASIA…).
    #[arg(long, value_name = "KEY")]
    pub access_key: Option<String>,
    /// Start from every key of a principal: an IAM user's or root's ARN,
    /// or a role's ARN (every session of the role).
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
    /// Start from an assumed-role session
    /// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION).
    #[arg(long, value_name = "ARN")]
    pub session: Option<String>,
    /// Start from every credential used from an address.
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,
    /// Start from the credentials of an alert's evidence (its id in the
    /// lake's alerts table, as the dashboard and `detect --lake` show it).
    #[arg(long, value_name = "ID")]
    pub alert: Option<String>,
    /// Raw CloudTrail files or folders to read instead of the lake (read
    /// once per hop: ingest big trails into a lake first).
    #[arg(value_name = "SOURCE")]
    pub sources: Vec<String>,
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Only events at or after this time (today, 24h, 7d, a date or an
    /// RFC 3339 time). Default: the whole trail.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only events before this time.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// How many hops of minted credentials to follow.
    #[arg(long, default_value_t = DEFAULT_DEPTH, value_name = "N")]
    pub depth: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to a file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// GeoIP databases (MaxMind DB) to place each address (default:
    /// `[correlate] geoip`).
    #[arg(long, value_name = "MMDB")]
    pub geoip: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
}

impl InvestigateArgs {
    fn subject(&self) -> Result<Subject> {
        let trimmed = |s: &String| s.trim().to_string();
        let subject = if let Some(k) = &self.access_key {
            Subject::AccessKey(trimmed(k))
        } else if let Some(p) = &self.principal {
            Subject::Principal(trimmed(p))
        } else if let Some(s) = &self.session {
            Subject::Session(trimmed(s))
        } else if let Some(ip) = &self.ip {
            Subject::Ip(trimmed(ip))
        } else if let Some(a) = &self.alert {
            Subject::Alert(trimmed(a))
        } else {
            bail!("give one of --access-key, --principal, --session, --ip, --alert");
        };
        Ok(subject)
    }

    fn request(&self) -> Result<Request> {
        let now = chrono::Utc::now();
        let window = Window {
            since: self
                .since
                .as_deref()
                .map(|s| parse_time("--since", s, now))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|s| parse_time("--until", s, now))
                .transpose()?,
        };
        if let (Some(s), Some(u)) = (window.since, window.until)
            && s >= u
        {
            bail!("--since must be before --until");
        }
        Ok(Request {
            subject: self.subject()?,
            window,
            depth: self.depth,
        })
    }
}

fn geoip(args: &InvestigateArgs, cfg: &Config) -> Result<Option<GeoIp>> {
    let flags = DetectFlags {
        geoip: args.geoip.clone(),
        ..DetectFlags::default()
    };
    let paths = DetectSettings::resolve(&flags, cfg)?.correlate.value.geoip;
    if paths.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        GeoIp::open(&paths).context("opening the GeoIP databases")?,
    ))
}

pub fn run(args: &InvestigateArgs, cfg: &Config) -> Result<ExitCode> {
    let req = args.request()?;
    let geo = geoip(args, cfg)?;
    let (report, problems) = if args.sources.is_empty() {
        (over_lake(args, cfg, &req, geo.as_ref())?, 0)
    } else {
        let rt = crate::runtime::for_storage()?;
        let s3 = args.lake.s3_options(cfg);
        let found = crate::source::discover_any(
            &args.sources,
            args.read.include_insights,
            &s3,
            rt.handle(),
        )?;
        let unreadable = found.report_unreadable();
        let mut files = Files::new(found.inputs, args.read.decode_options())?;
        let report = investigate(&mut files, &req, geo.as_ref())?;
        (report, files.problems + unreadable)
    };
    // The table shows the notes itself; other formats go to files and tools.
    for note in report.notes.iter().filter(|_| args.format != Format::Table) {
        tracing::warn!("{}", trailwatch_core::terminal::escape_controls(note));
    }
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    write(&report, args.format, &mut out)?;
    Ok(args.read.exit_for(problems))
}

#[cfg(feature = "sql")]
fn over_lake(
    args: &InvestigateArgs,
    cfg: &Config,
    req: &Request,
    geo: Option<&GeoIp>,
) -> Result<trailwatch_core::investigate::Report> {
    let rt = crate::runtime::for_queries("tw-investigate", 2)?;
    let mut lake = args.lake.trail(cfg, &rt)?;
    let report = investigate(&mut lake, req, geo);
    rt.shutdown_background();
    report
}

#[cfg(not(feature = "sql"))]
fn over_lake(
    _args: &InvestigateArgs,
    _cfg: &Config,
    _req: &Request,
    _geo: Option<&GeoIp>,
) -> Result<trailwatch_core::investigate::Report> {
    bail!("this build has no query engine (feature `sql`): give SOURCE files to investigate")
}
