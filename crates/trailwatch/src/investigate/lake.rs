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

use super::{Lookup, Trail, Window};

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

    /// The first `date` partition of each region and account in `values`,
    /// from the lake's listing.
    fn first_days(&self, values: &Values) -> Result<[BTreeMap<String, String>; 2]> {
        let mut regions = BTreeMap::new();
        let mut accounts = BTreeMap::new();
        // Sorted by day: each value's first entry is its first day.
        let mut days: Vec<PartitionKey> = partition_files(&self.store)?.into_keys().collect();
        days.sort_by(|a, b| a.date.cmp(&b.date));
        for pk in days {
            if values.regions.contains(&pk.region) {
                regions
                    .entry(pk.region.clone())
                    .or_insert_with(|| pk.date.clone());
            }
            if values.accounts.contains(&pk.account) {
                accounts.entry(pk.account).or_insert(pk.date);
            }
        }
        Ok([regions, accounts])
    }
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
            dec.for_each(
                |r| {
                    f(&r.event);
                    Ok::<(), std::convert::Infallible>(())
                },
                // A row the lake holds is a record it decoded at ingest.
                |e, _| {
                    tracing::warn!("a lake row did not read back as a record: {e}");
                    Ok(())
                },
            )
            .unwrap_or_else(|never| match never {});
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
        let sql = format!(
            "SELECT alert_id, rule_id, title, severity, alert_time, event_ids FROM alerts \
             WHERE \"date\" >= {}",
            quoted(since)
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

    fn first_seen(&mut self, values: &Values) -> Result<FirstSeen> {
        let mut parts = Vec::new();
        // Addresses by their bloom filters, agents by a scan of theirs.
        for (facet, column, list) in [
            ("ip", "sourceipaddress", &values.ips),
            ("agent", "useragent", &values.agents),
        ] {
            if !list.is_empty() {
                parts.push(format!(
                    "SELECT '{facet}' AS facet, {column} AS value, MIN(eventtime) AS first \
                     FROM cloudtrail_logs WHERE {column} IN ({}) GROUP BY {column}",
                    listed(list)
                ));
            }
        }
        // Regions and accounts are partitions: only their first day is
        // read (the `date` partition is the UTC day of `eventTime`).
        let [regions, accounts] = self.first_days(values)?;
        for (facet, column, firsts) in [
            ("region", "region", regions),
            ("account", "account", accounts),
        ] {
            for (value, day) in firsts {
                parts.push(format!(
                    "SELECT '{facet}' AS facet, {column} AS value, MIN(eventtime) AS first \
                     FROM cloudtrail_logs WHERE {column} = {} AND \"date\" = {} GROUP BY {column}",
                    quoted(&value),
                    quoted(&day)
                ));
            }
        }
        let mut out = FirstSeen::default();
        if parts.is_empty() {
            return Ok(out);
        }
        for b in self.run(&parts.join(" UNION ALL "))? {
            let (facets, vals, firsts) = (texts(&b, 0)?, texts(&b, 1)?, texts(&b, 2)?);
            for ((facet, value), first) in facets.into_iter().zip(vals).zip(firsts) {
                let (Some(facet), Some(value), Some(first)) = (facet, value, first) else {
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
