//! `trailwatch top`: the quick answers, one query each, over the lake.
//! A `since` filter is given both as a partition filter on `date` (so
//! older partitions are not read) and on `eventtime`.

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
