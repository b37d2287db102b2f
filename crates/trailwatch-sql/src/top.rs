//! `trailwatch top`: the quick answers, one query each, over the lake.
//! A `since` filter is given both as a partition filter on `date` (so
//! older partitions are not read) and on `eventtime`. When the window
//! leaves nothing, the lake's time span says why.

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use trailwatch_core::terminal::escape_controls;

use crate::{Engine, QueryError};

/// What `top` can rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Top {
    Callers,
    Actions,
    Ips,
    Errors,
    Regions,
}

/// The query for `top WHAT` since `since` (`YYYY-MM-DD…`), `limit` rows.
pub fn query(what: Top, since: &str, limit: usize) -> String {
    let since = since.replace('\'', "''");
    let date = since.get(..10).unwrap_or(&since).to_string();
    let (key, label, extra) = match what {
        Top::Callers => ("userIdentity.arn", "caller", ""),
        Top::Actions => ("eventSource || ':' || eventName", "action", ""),
        Top::Ips => ("sourceIPAddress", "source_ip", ""),
        Top::Errors => (
            "errorCode || ' ' || eventSource || ':' || eventName",
            "error",
            "AND errorCode IS NOT NULL",
        ),
        Top::Regions => ("awsRegion", "region", ""),
    };
    format!(
        "SELECT {key} AS {label}, COUNT(*) AS calls, COUNT(DISTINCT sourceIPAddress) AS ips, \
         MIN(eventTime) AS first, MAX(eventTime) AS last \
         FROM cloudtrail_logs WHERE \"date\" >= '{date}' AND eventTime >= '{since}' {extra} \
         GROUP BY 1 ORDER BY calls DESC LIMIT {limit}"
    )
}

/// The lake's first and last event time, when it holds any.
pub async fn lake_span(engine: &Engine) -> Result<Option<(String, String)>, QueryError> {
    let result = engine
        .run("SELECT MIN(eventTime) AS first, MAX(eventTime) AS last FROM cloudtrail_logs")
        .await?;
    let Some(batch) = result.batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let text = |i: usize| -> Result<Option<String>, QueryError> {
        let c = cast(batch.column(i), &DataType::Utf8)?;
        let c = c.as_string::<i32>();
        Ok((!c.is_null(0)).then(|| c.value(0).to_string()))
    };
    Ok(text(0)?.zip(text(1)?))
}

/// A time as shown in a hint: it comes from the records (the lake's span)
/// or the command line, so at most 40 characters, control characters as
/// escapes.
fn shown(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    escape_controls(&cut).into_owned()
}

/// What to tell a user whose window since `since` left nothing, given the
/// lake's first and last event time (`None` when the lake is empty).
pub fn empty_window_hint(since: &str, span: Option<(&str, &str)>) -> String {
    let span = span.map(|(first, last)| (shown(first), shown(last)));
    let span = span.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
    match span {
        None => "no events: the lake holds none (ingest a trail first)".to_string(),
        Some((first, last)) if since > last => format!(
            "no events since {since}; the lake holds {first} to {last}; try --since {}",
            first.get(..10).unwrap_or(first)
        ),
        Some((first, last)) => {
            format!("no events since {since} match; the lake holds {first} to {last}")
        }
    }
}

/// What to tell a user whose saved query gave no rows, given its
/// `since`/`until` parameters (as typed) and the lake's time span.
pub fn saved_empty_hint(
    since: Option<&str>,
    until: Option<&str>,
    span: Option<(&str, &str)>,
) -> String {
    let Some((first, last)) = span.map(|(a, b)| (shown(a), shown(b))) else {
        return "no rows: the lake holds no events (ingest a trail first)".to_string();
    };
    let day = |t: &str| t.get(..10).unwrap_or(t).to_string();
    let holds = format!("the lake holds {first} to {last}");
    match (since.map(shown), until.map(shown)) {
        (Some(s), _) if s.as_str() > last.as_str() => format!(
            "no rows: since={s} is after the lake's last event; {holds}; try --param since={}",
            day(&first)
        ),
        (_, Some(u)) if u.as_str() <= first.as_str() => format!(
            "no rows: until={u} is before the lake's first event; {holds}; try --param until={}",
            day(&last)
        ),
        _ => format!("no rows matched; {holds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_query_without_rows_says_whether_the_window_missed_the_lake() {
        let span = Some(("2026-04-01T00:00:03Z", "2026-04-07T23:59:58Z"));
        assert_eq!(
            saved_empty_hint(Some("2026-12-01"), None, span),
            "no rows: since=2026-12-01 is after the lake's last event; the lake holds \
             2026-04-01T00:00:03Z to 2026-04-07T23:59:58Z; try --param since=2026-04-01"
        );
        assert!(
            saved_empty_hint(None, Some("2025-01-01"), span)
                .ends_with("try --param until=2026-04-07")
        );
        assert_eq!(
            saved_empty_hint(Some("2026-04-02"), None, span),
            "no rows matched; the lake holds 2026-04-01T00:00:03Z to 2026-04-07T23:59:58Z"
        );
        assert!(saved_empty_hint(None, None, None).contains("no events"));
    }

    #[test]
    fn an_empty_window_says_what_the_lake_holds() {
        let span = Some(("2026-04-01T00:00:03Z", "2026-04-07T23:59:58Z"));
        assert_eq!(
            empty_window_hint("2026-12-01T10:00:00Z", span),
            "no events since 2026-12-01T10:00:00Z; the lake holds 2026-04-01T00:00:03Z to \
             2026-04-07T23:59:58Z; try --since 2026-04-01"
        );
        // A window inside the span that still matched nothing (top errors
        // on a trail without errors): no advice to move the window.
        assert!(!empty_window_hint("2026-04-02T00:00:00Z", span).contains("try"));
        assert!(empty_window_hint("2026-04-02T00:00:00Z", None).contains("holds none"));
        // Text from records reaches the terminal escaped and bounded.
        let hostile = format!("2026-01-01T00:00:00Z\u{1b}]52;c;{}", "A".repeat(10_000));
        let hint = empty_window_hint("2026-12-01T00:00:00Z", Some((&hostile, "2026-02-01")));
        assert!(
            !hint.contains('\u{1b}') && hint.contains("\\u{1b}"),
            "{hint}"
        );
        assert!(hint.len() < 200, "{hint}");
    }
}
