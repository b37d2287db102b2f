//! The lake as a [`Trail`]: each hop is one SQL statement whose filter the
//! lake can answer from a few row groups — access keys and principals by
//! their top-level copies' bloom filters and statistics, addresses and
//! event ids by theirs, the window by `date` partitions — and whose rows
//! come back as the records they were (`trailwatch_lake::read`), so the
//! story reads the lake exactly as it reads raw files.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use tokio::runtime::Handle;
use trailwatch_core::event::{DecodeOptions, Decoder, Event};
use trailwatch_core::investigate::{AlertRef, FirstSeen, Subject, Values};
use trailwatch_lake::partition::{PartitionKey, partition_files};
use trailwatch_lake::read::batch_to_ndjson;
use trailwatch_lake::schema::{cloudtrail_schema, is_identity_copy};
use trailwatch_lake::store::Store;
use trailwatch_sql::Engine;

use super::{Lookup, Trail, Window, decode_all};

pub struct Lake {
    engine: Engine,
    /// The same lake as files: its partition listing says on which day
    /// each region and account first appears without opening a file.
    store: Store,
    runtime: Handle,
}

/// `'text'` as an SQL string literal.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn listed(values: &[String]) -> String {
    values
        .iter()
        .map(|v| quoted(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The record's columns: the table's, without the typed time twin and the
/// identity copies (which are not part of a record) and the partitions.
fn record_columns() -> String {
    cloudtrail_schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|n| *n != "eventtimestamp" && !is_identity_copy(n))
        .collect::<Vec<_>>()
        .join(", ")
}

fn time_filter(window: &Window) -> String {
    let mut out = String::new();
    let ts = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    if let Some(s) = &window.since {
        out.push_str(&format!(" AND eventtimestamp >= TIMESTAMP '{}'", ts(s)));
    }
    if let Some(u) = &window.until {
        out.push_str(&format!(" AND eventtimestamp < TIMESTAMP '{}'", ts(u)));
    }
    out
}

/// The filter that finds a lookup's events. Nested `useridentity` fields
/// are rewritten by the engine to their top-level copies (pruned by bloom
/// filters), and read as the nested fields in files written before them.
fn lookup_filter(lookup: Lookup<'_>) -> String {
    match lookup {
        Lookup::Subject(Subject::Principal(p)) if p.contains(":role/") => format!(
            "useridentity.sessioncontext.sessionissuer.arn = {}",
            quoted(p)
        ),
        Lookup::Subject(Subject::Principal(p) | Subject::Session(p)) => {
            format!("useridentity.arn = {}", quoted(p))
        }
        Lookup::Subject(Subject::Ip(ip)) => format!("sourceipaddress = {}", quoted(ip)),
        Lookup::Subject(_) => "FALSE".into(),
        Lookup::Keys(keys) => format!("useridentity.accesskeyid IN ({})", listed(keys)),
        Lookup::EventIds(ids) => format!("eventid IN ({})", listed(ids)),
        Lookup::Twins(ids) => format!("sharedeventid IN ({})", listed(ids)),
        Lookup::Calls(names) => {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            format!("eventname IN ({})", listed(&names))
        }
    }
}

impl Lake {
    /// The lake registered in `engine` and opened as `store`; statements
    /// run on `runtime` (a caller off any async thread waits for them).
    pub fn new(engine: Engine, store: Store, runtime: Handle) -> Lake {
        Lake {
            engine,
            store,
            runtime,
        }
    }

    fn run(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let started = Instant::now();
        let out = self
            .runtime
            .block_on(self.engine.run_on(sql, &self.runtime))
            .with_context(|| format!("reading the lake ({})", sql.get(..80).unwrap_or(sql)))?;
        tracing::debug!(
            "investigate: {} rows in {} ms: {}",
            out.batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            started.elapsed().as_millis(),
            sql.get(..160).unwrap_or(sql)
        );
        Ok(out.batches)
    }

    /// The alerts matching an SQL condition, oldest first.
    fn alerts_where(&self, condition: &str) -> Result<Vec<AlertRef>> {
        let sql = format!(
            "SELECT alert_id, rule_id, title, severity, alert_time, event_ids FROM alerts \
             WHERE {condition} ORDER BY alert_time, alert_id"
        );
        let mut out = Vec::new();
        for b in self.run(&sql)? {
            let cols: Vec<Vec<Option<String>>> =
                (0..5).map(|i| texts(&b, i)).collect::<Result<_>>()?;
            for (row, event_ids) in text_lists(&b, 5)?.into_iter().enumerate() {
                let text = |i: usize| cols[i][row].clone();
                out.push(AlertRef {
                    alert_id: text(0).unwrap_or_default(),
                    rule_id: text(1).unwrap_or_default(),
                    title: text(2),
                    severity: text(3).unwrap_or_default(),
                    alert_time: text(4),
                    event_ids,
                });
            }
        }
        Ok(out)
    }

    /// The lake's first day (its oldest `date` partition) and the first
    /// day of each region and account in `values`, from the listing (no
    /// file is opened).
    fn days(&self, values: &Values) -> Result<Days> {
        let mut keys: Vec<PartitionKey> = partition_files(&self.store)?.into_keys().collect();
        keys.sort_by(|a, b| a.date.cmp(&b.date));
        let mut days = Days::default();
        for pk in keys {
            if days.first.is_none() {
                days.first = Some(pk.date.clone());
            }
            if values.regions.contains(&pk.region) {
                days.regions
                    .entry(pk.region.clone())
                    .or_insert_with(|| pk.date.clone());
            }
            if values.accounts.contains(&pk.account) {
                days.accounts.entry(pk.account).or_insert(pk.date);
            }
        }
        Ok(days)
    }
}

/// What the lake's listing says about days.
#[derive(Debug, Default)]
struct Days {
    first: Option<String>,
    regions: BTreeMap<String, String>,
    accounts: BTreeMap<String, String>,
}

/// `SELECT facet, value, first`: when each value of `column` the filter
/// keeps was first seen. The typed time: its column is cheaper to read
/// than the text.
fn earliest(facet: &str, column: &str, filter: &str) -> String {
    format!(
        "SELECT '{facet}' AS facet, {column} AS value, MIN(eventtimestamp) AS first \
         FROM cloudtrail_logs WHERE {filter} GROUP BY {column}"
    )
}

/// A timestamp as Arrow writes it as text (`…+00:00`), as CloudTrail
/// writes event times (`2026-04-01T10:00:00Z`).
fn utc(text: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Some(
        t.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    )
}

/// Column `i` of `batch` as text, row by row.
fn texts(batch: &RecordBatch, i: usize) -> Result<Vec<Option<String>>> {
    let col = cast(batch.column(i), &DataType::Utf8)?;
    let col = col.as_string::<i32>();
    Ok((0..col.len())
        .map(|r| (!col.is_null(r)).then(|| col.value(r).to_string()))
        .collect())
}

/// Column `i` of `batch`, a list of strings, row by row.
fn text_lists(batch: &RecordBatch, i: usize) -> Result<Vec<Vec<String>>> {
    let col = batch.column(i).as_list::<i32>();
    let mut out = Vec::with_capacity(col.len());
    for r in 0..col.len() {
        if col.is_null(r) {
            out.push(Vec::new());
            continue;
        }
        let items = cast(&col.value(r), &DataType::Utf8)?;
        let items = items.as_string::<i32>();
        out.push(
            (0..items.len())
                .filter(|j| !items.is_null(*j))
                .map(|j| items.value(j).to_string())
                .collect(),
        );
    }
    Ok(out)
}

impl Trail for Lake {
    fn events(
        &mut self,
        lookup: Lookup<'_>,
        window: &Window,
        f: &mut dyn FnMut(&Event<'_>),
    ) -> Result<()> {
        let sql = format!(
            "SELECT {} FROM cloudtrail_logs WHERE {}{}",
            record_columns(),
            lookup_filter(lookup),
            time_filter(window)
        );
        let mut text = Vec::new();
        for batch in self.run(&sql)? {
            text.clear();
            batch_to_ndjson(&batch, &mut text);
            let mut dec = Decoder::from_reader(
                "the lake",
                std::io::Cursor::new(std::mem::take(&mut text)),
                DecodeOptions::default(),
            )?;
            // A row the lake holds is a record it decoded at ingest.
            decode_all(
                &mut dec,
                |r| f(&r.event),
                |e| {
                    tracing::warn!("a lake row did not read back as a record: {e}");
                },
            );
        }
        Ok(())
    }

    fn alert_evidence(&mut self, alert_id: &str) -> Result<Option<Vec<String>>> {
        let sql = format!(
            "SELECT event_ids FROM alerts WHERE alert_id = {}",
            quoted(alert_id)
        );
        let batches = self.run(&sql)?;
        let mut found = None;
        for b in &batches {
            for ids in text_lists(b, 0)? {
                found.get_or_insert_with(Vec::new).extend(ids);
            }
        }
        Ok(found)
    }

    fn alerts_since(&mut self, since: &str) -> Result<Vec<AlertRef>> {
        self.alerts_where(&format!("\"date\" >= {}", quoted(since)))
    }

    fn alarming_alerts(
        &mut self,
        ids: &[String],
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<AlertRef>> {
        let mut condition = "state = 'ALARM'".to_string();
        if !ids.is_empty() {
            condition.push_str(&format!(" AND alert_id IN ({})", listed(ids)));
        }
        if let Some(t) = since {
            condition.push_str(&format!(
                " AND \"date\" >= '{}' AND alert_time >= TIMESTAMP '{}'",
                t.format("%Y-%m-%d"),
                t.format("%Y-%m-%dT%H:%M:%S%.3fZ")
            ));
        }
        self.alerts_where(&condition)
    }

    /// Two statements. The first reads the lake's first day: a common
    /// address or agent is found there, and each region and account is
    /// read on its own first day only (the `date` partition is the UTC day
    /// of `eventTime`; the listing says which day that is). The second
    /// looks for the addresses and agents not found yet in the whole lake:
    /// a rare address (the signal) is skipped by the bloom filters, and
    /// agents are few per row group (dictionary-encoded), so their scan is
    /// cheap (docs/benchmarks.md).
    fn first_seen(&mut self, values: &Values) -> Result<FirstSeen> {
        let days = self.days(values)?;
        let mut parts = Vec::new();
        for (facet, column, firsts) in [
            ("region", "region", &days.regions),
            ("account", "account", &days.accounts),
        ] {
            for (value, day) in firsts {
                let filter = format!(
                    "{column} = {} AND \"date\" = {}",
                    quoted(value),
                    quoted(day)
                );
                parts.push(earliest(facet, column, &filter));
            }
        }
        let first_day = days
            .first
            .as_ref()
            .map(|d| format!(" AND \"date\" = {}", quoted(d)));
        let mut out = FirstSeen::default();
        for within in [first_day, Some(String::new())] {
            let Some(within) = within else { continue };
            for (facet, column, list, found) in [
                ("ip", "sourceipaddress", &values.ips, &out.ips),
                ("agent", "useragent", &values.agents, &out.agents),
            ] {
                let left: Vec<String> = list
                    .iter()
                    .filter(|v| !found.contains_key(*v))
                    .cloned()
                    .collect();
                if !left.is_empty() {
                    parts.push(earliest(
                        facet,
                        column,
                        &format!("{column} IN ({}){within}", listed(&left)),
                    ));
                }
            }
            if parts.is_empty() {
                continue;
            }
            for b in self.run(&std::mem::take(&mut parts).join(" UNION ALL "))? {
                let (facets, vals, firsts) = (texts(&b, 0)?, texts(&b, 1)?, texts(&b, 2)?);
                for ((facet, value), first) in facets.into_iter().zip(vals).zip(firsts) {
                    let (Some(facet), Some(value), Some(first)) =
                        (facet, value, first.as_deref().and_then(utc))
                    else {
                        continue;
                    };
                    let map = match facet.as_str() {
                        "ip" => &mut out.ips,
                        "agent" => &mut out.agents,
                        "region" => &mut out.regions,
                        _ => &mut out.accounts,
                    };
                    map.insert(value, first);
                }
            }
        }
        Ok(out)
    }

    fn span(&mut self) -> Result<Option<(String, String)>> {
        Ok(self
            .runtime
            .block_on(trailwatch_sql::top::lake_span(&self.engine))?)
    }

    fn name(&self) -> &'static str {
        "the lake"
    }
}
