//! Raw CloudTrail files as a [`Trail`]: each hop reads every input again
//! (bounded memory, whatever the trail's size; a lake answers the same
//! hops from a few row groups). Decode problems are reported on the first
//! read only.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use trailwatch_core::event::{DecodeOptions, Event, Record};
use trailwatch_core::investigate::{AlertRef, FirstSeen, Subject, Values};

use super::{Lookup, Trail, Window, decode_all};
use crate::source::Input;

pub struct Files {
    inputs: Vec<Input>,
    opts: DecodeOptions,
    reads: u32,
    /// Records and files that could not be decoded (first read).
    pub problems: u64,
}

impl Files {
    /// Files over `inputs`; stdin cannot be read more than once.
    pub fn new(inputs: Vec<Input>, opts: DecodeOptions) -> Result<Files> {
        if inputs.iter().any(|i| matches!(i, Input::Stdin)) {
            bail!(
                "investigate reads its input once per hop, and stdin only once: save it to a file or ingest it into a lake"
            );
        }
        Ok(Files {
            inputs,
            opts,
            reads: 0,
            problems: 0,
        })
    }

    fn each(&mut self, mut f: impl FnMut(&Record<'_>)) {
        let first = self.reads == 0;
        self.reads += 1;
        for input in &self.inputs {
            let mut dec = match input.open(self.opts) {
                Ok(dec) => dec,
                Err(e) => {
                    if first {
                        self.problems += 1;
                        tracing::error!("{e}");
                    }
                    continue;
                }
            };
            let problems = decode_all(&mut dec, &mut f, |e| {
                if first {
                    tracing::error!("{e}");
                }
            });
            if first {
                self.problems += problems;
            }
        }
    }
}

fn key_of<'e>(e: &'e Event<'_>) -> Option<&'e str> {
    e.user_identity.as_ref()?.access_key_id.as_deref()
}

fn wanted(lookup: Lookup<'_>, e: &Event<'_>) -> bool {
    let among = |list: &[String], v: Option<&str>| v.is_some_and(|v| list.iter().any(|x| x == v));
    match lookup {
        Lookup::Subject(s @ (Subject::Principal(_) | Subject::Session(_) | Subject::Ip(_))) => {
            s.names(e)
        }
        Lookup::Subject(_) => false,
        Lookup::Keys(keys) => among(keys, key_of(e)),
        Lookup::EventIds(ids) => among(ids, Some(&e.event_id)),
        Lookup::Twins(ids) => among(ids, e.shared_event_id.as_deref()),
        Lookup::Calls(names) => e.event_name.as_deref().is_some_and(|n| names.contains(&n)),
    }
}

impl Trail for Files {
    fn events(
        &mut self,
        lookup: Lookup<'_>,
        window: &Window,
        f: &mut dyn FnMut(&Event<'_>),
    ) -> Result<()> {
        self.each(|r| {
            if window.contains(r.time) && wanted(lookup, &r.event) {
                f(&r.event);
            }
        });
        Ok(())
    }

    fn alarming_alerts(
        &mut self,
        _ids: &[String],
        _since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<AlertRef>> {
        bail!("reading alerts by id or time needs a lake: give --lake, or --alerts FILE")
    }

    fn alert_evidence(&mut self, _alert_id: &str) -> Result<Option<Vec<String>>> {
        bail!(
            "--alert needs a lake: alerts are kept in the lake's alerts table (ingest the trail and run detect --lake)"
        )
    }

    fn alerts_since(&mut self, _since: &str) -> Result<Vec<AlertRef>> {
        Ok(Vec::new())
    }

    fn first_seen(&mut self, values: &Values) -> Result<FirstSeen> {
        // (facet's values, earliest (ms, text) per value), one per facet.
        type Firsts = BTreeMap<String, (i64, String)>;
        let mut firsts: [Firsts; 4] = Default::default();
        let lists = [
            &values.ips,
            &values.agents,
            &values.regions,
            &values.accounts,
        ];
        self.each(|r| {
            let e = &r.event;
            let at = r.time.timestamp_millis();
            let facets = [
                e.source_ip_address.as_deref(),
                e.user_agent.as_deref(),
                Some(e.aws_region.as_str()),
                e.account(),
            ];
            for ((map, list), v) in firsts.iter_mut().zip(lists).zip(facets) {
                let Some(v) = v.filter(|v| list.iter().any(|x| x == v)) else {
                    continue;
                };
                match map.get_mut(v) {
                    Some(slot) if at < slot.0 => *slot = (at, e.event_time.to_string()),
                    Some(_) => {}
                    None => {
                        map.insert(v.to_string(), (at, e.event_time.to_string()));
                    }
                }
            }
        });
        let [ips, agents, regions, accounts] =
            firsts.map(|m| m.into_iter().map(|(k, (_, t))| (k, t)).collect());
        Ok(FirstSeen {
            ips,
            agents,
            regions,
            accounts,
        })
    }

    fn span(&mut self) -> Result<Option<(String, String)>> {
        let mut span: Option<((i64, String), (i64, String))> = None;
        self.each(|r| {
            let at = r.time.timestamp_millis();
            let t = r.event.event_time.to_string();
            match &mut span {
                None => span = Some(((at, t.clone()), (at, t))),
                Some((lo, hi)) => {
                    if at < lo.0 {
                        *lo = (at, t);
                    } else if at > hi.0 {
                        *hi = (at, t);
                    }
                }
            }
        });
        Ok(span.map(|(a, b)| (a.1, b.1)))
    }

    fn name(&self) -> &'static str {
        "the input"
    }
}
