//! `trailwatch generate`: a deterministic, realistic sample trail.
//!
//! Writes a multi-account, multi-region organisation trail in CloudTrail's
//! S3 layout (`AWSLogs/<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/…`),
//! with ordinary traffic shaped by time of day and the incidents of
//! [`incidents`] planted among it. The same seed gives the same bytes.

mod incidents;
mod record;
mod traffic;
mod world;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use record::{GenEvent, file_unique};
use world::{ACCOUNTS, ORG_ID, Principal, REGIONS};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Total records, planted incidents included.
    pub events: u64,
    pub days: u32,
    pub start: DateTime<Utc>,
    pub seed: u64,
    pub out: PathBuf,
}

/// What was written.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub files: u64,
    pub events: u64,
    pub incident_events: u64,
    pub incidents: usize,
    pub bytes: u64,
}

/// The name of the incident list written beside `AWSLogs/`.
pub const INCIDENTS_FILE: &str = "planted-incidents.json";

/// Delivery windows, in minutes, that divide a day evenly.
const WINDOWS: &[i64] = &[5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440];

/// Traffic by hour of day (UTC): a working-hours bump over a night floor.
fn diurnal(hour: u32) -> f64 {
    let d = f64::from(hour) - 14.0;
    0.25 + (-(d * d) / 18.0).exp()
}

struct Stream {
    account: &'static str,
    region: &'static str,
    weight: f64,
}

pub fn generate(opts: &Options, progress: &dyn Fn(u64)) -> Result<Summary> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let span = Duration::days(i64::from(opts.days.max(1)));
    let mut principals: Vec<Vec<Principal>> = Vec::new();
    for account in ACCOUNTS {
        let mut keys = |prefix: &str| record::access_key(&mut rng, prefix);
        principals.push(world::principals(account.id, &mut keys));
    }
    let planted = incidents::plant(&mut rng, opts.start, span);
    let mut pending: Vec<GenEvent> = planted.iter().flat_map(|i| i.events.clone()).collect();
    pending.sort_by(|a, b| a.event_time.cmp(&b.event_time));
    let incident_events = pending.len() as u64;
    // The incidents are the sample's point: fewer events than they take
    // would quietly write more than asked.
    if opts.events < incident_events {
        anyhow::bail!(
            "--events {}: the planted incidents alone take {incident_events} events over {} days; give at least that many",
            opts.events,
            opts.days.max(1)
        );
    }
    let ordinary_total = opts.events.saturating_sub(incident_events);

    let streams: Vec<Stream> = ACCOUNTS
        .iter()
        .flat_map(|a| {
            REGIONS.iter().map(move |(r, w)| Stream {
                account: a.id,
                region: r,
                weight: a.weight * w,
            })
        })
        .collect();
    let minutes = span.num_minutes();
    // About fifty records a file, as busy accounts see; never under 5 minutes.
    let wanted = minutes * streams.len() as i64 * 50 / (opts.events.max(1) as i64);
    let window = *WINDOWS.iter().find(|w| **w >= wanted).unwrap_or(&1440);
    let n_windows = minutes / window;
    let weight_of = |w: i64, s: &Stream| {
        let t = opts.start + Duration::minutes(w * window + window / 2);
        s.weight * diurnal(t.hour())
    };
    let total_weight: f64 = (0..n_windows)
        .map(|w| streams.iter().map(|s| weight_of(w, s)).sum::<f64>())
        .sum();

    fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    let mut summary = Summary {
        incident_events,
        incidents: planted.len(),
        ..Summary::default()
    };
    let mut cumulative = 0.0;
    let mut allocated = 0u64;
    let mut pending = pending.into_iter().peekable();
    let mut late: Vec<GenEvent> = Vec::new();
    for w in 0..n_windows {
        let w_start = opts.start + Duration::minutes(w * window);
        let w_end = w_start + Duration::minutes(window);
        let end_stamp = record::cloudtrail_time(w_end);
        let mut planted_here: Vec<GenEvent> = Vec::new();
        while pending.peek().is_some_and(|e| e.event_time < end_stamp) {
            planted_here.extend(pending.next());
        }
        for (si, s) in streams.iter().enumerate() {
            cumulative += weight_of(w, s);
            let last = w == n_windows - 1 && si == streams.len() - 1;
            let target = if last {
                ordinary_total
            } else {
                (cumulative / total_weight * ordinary_total as f64).round() as u64
            };
            let count = target.saturating_sub(allocated);
            allocated += count;
            let acct_index = ACCOUNTS.iter().position(|a| a.id == s.account).unwrap_or(0);
            let mut events: Vec<GenEvent> = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let p = pick_principal(&mut rng, &principals[acct_index]);
                let secs = rng.random_range(0..window * 60);
                let t = w_start + Duration::seconds(secs);
                let e = traffic::ordinary(&mut rng, p, s.region, t);
                // One record in a hundred is delivered late, in a later file.
                if rng.random_ratio(1, 100) && w + 1 < n_windows {
                    late.push(e);
                } else {
                    events.push(e);
                }
            }
            let (mine, rest): (Vec<GenEvent>, Vec<GenEvent>) = planted_here
                .drain(..)
                .partition(|e| e.recipient_account_id == s.account && e.aws_region == s.region);
            planted_here = rest;
            events.extend(mine);
            let (arrived, still): (Vec<GenEvent>, Vec<GenEvent>) = late
                .drain(..)
                .partition(|e| e.recipient_account_id == s.account && e.aws_region == s.region);
            late = still;
            events.extend(arrived);
            if events.is_empty() {
                continue;
            }
            events.sort_by(|a, b| a.event_time.cmp(&b.event_time));
            let delivered = w_end + Duration::minutes(5);
            let bytes = write_file(&opts.out, s, delivered, &mut rng, &events)?;
            summary.files += 1;
            summary.events += events.len() as u64;
            summary.bytes += bytes;
            progress(events.len() as u64);
        }
        // Planted events for streams that had no window slot are kept for the next.
        late.extend(planted_here);
    }
    // Anything still late is delivered in one final file per stream.
    for s in &streams {
        let (mine, rest): (Vec<GenEvent>, Vec<GenEvent>) = late
            .drain(..)
            .partition(|e| e.recipient_account_id == s.account && e.aws_region == s.region);
        late = rest;
        if mine.is_empty() {
            continue;
        }
        let delivered = opts.start + span + Duration::minutes(10);
        summary.bytes += write_file(&opts.out, s, delivered, &mut rng, &mine)?;
        summary.files += 1;
        summary.events += mine.len() as u64;
    }
    let list = serde_json::to_string_pretty(&planted)?;
    fs::write(opts.out.join(INCIDENTS_FILE), list + "\n")?;
    Ok(summary)
}

fn pick_principal<'p>(rng: &mut impl Rng, ps: &'p [Principal]) -> &'p Principal {
    let total: f64 = ps.iter().map(|p| p.weight).sum();
    let mut roll = rng.random::<f64>() * total;
    for p in ps {
        if roll < p.weight {
            return p;
        }
        roll -= p.weight;
    }
    &ps[0]
}

fn write_file(
    out: &Path,
    s: &Stream,
    delivered: DateTime<Utc>,
    rng: &mut impl Rng,
    events: &[GenEvent],
) -> Result<u64> {
    let dir = out.join(format!(
        "AWSLogs/{ORG_ID}/{}/CloudTrail/{}/{:04}/{:02}/{:02}",
        s.account,
        s.region,
        delivered.year(),
        delivered.month(),
        delivered.day()
    ));
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = format!(
        "{}_CloudTrail_{}_{}_{}.json.gz",
        s.account,
        s.region,
        delivered.format("%Y%m%dT%H%MZ"),
        file_unique(rng)
    );
    let path = dir.join(name);
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
    gz.write_all(b"{\"Records\":[")?;
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            gz.write_all(b",")?;
        }
        serde_json::to_writer(&mut gz, e)?;
    }
    gz.write_all(b"]}")?;
    let mut inner = gz.finish()?;
    inner.flush()?;
    Ok(fs::metadata(&path)?.len())
}
