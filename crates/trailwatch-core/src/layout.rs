//! How CloudTrail lays out its objects in a bucket (`cloudtrail-record.md`
//! §1.1): recognise log, digest and Insights keys, and read the account,
//! region and delivery date from the key, or from the file name alone when a
//! trail was copied without its `AWSLogs/…` prefix.

use std::sync::LazyLock;

use regex::Regex;

/// What kind of CloudTrail object a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A log file of management/data events.
    Log,
    /// A digest file (integrity validation); never decoded as events.
    Digest,
    /// An Insights log file.
    Insight,
}

/// What a key tells about a CloudTrail object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailKey {
    pub kind: ObjectKind,
    /// Organization id (`o-…`) for organization trails.
    pub org_id: Option<String>,
    pub account: String,
    pub region: String,
    /// Delivery date `YYYY-MM-DD` (not the events' date).
    pub delivery_date: String,
    /// Delivery timestamp from the file name (`YYYYMMDDTHHmmZ`, or with
    /// seconds for digests), when the name follows the convention.
    pub delivery_stamp: Option<String>,
}

static KEY: LazyLock<Regex> = LazyLock::new(|| {
    // The pattern is a constant; a failure here is a programming error that
    // every test run would reveal.
    #[allow(clippy::expect_used)]
    Regex::new(
        r"(?:^|/)AWSLogs/(?:(?P<org>o-[a-z0-9]+)/)?(?P<acct>\d{12})/(?P<kind>CloudTrail|CloudTrail-Digest|CloudTrail-Insight)/(?P<region>[a-z0-9-]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<file>[^/]+)$",
    )
    .expect("valid key regex")
});

static FILE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(
        r"^(?:(?P<org>o-[a-z0-9]+)_)?(?P<acct>\d{12})_(?P<kind>CloudTrail|CloudTrail-Digest|CloudTrail-Insight)_(?P<region>[a-z0-9-]+)_(?:.*_)?(?P<stamp>(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})T\d{4}(?:\d{2})?Z)(?:_[A-Za-z0-9]+)?(?:_backfill)?\.json(?:\.gz)?$",
    )
    .expect("valid file-name regex")
});

fn kind_of(s: &str) -> ObjectKind {
    match s {
        "CloudTrail-Digest" => ObjectKind::Digest,
        "CloudTrail-Insight" => ObjectKind::Insight,
        _ => ObjectKind::Log,
    }
}

impl TrailKey {
    /// When the file was delivered, from the stamp in its name (log files
    /// name the minute, digests the second).
    pub fn delivered_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let stamp = self.delivery_stamp.as_deref()?;
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ"))
            .ok()
            .map(|t| t.and_utc())
    }
}

/// Parse an object key or path (with `/` separators). Returns `None` for
/// keys that follow neither the S3 layout nor the file-name convention.
pub fn parse_key(key: &str) -> Option<TrailKey> {
    let file_name = key.rsplit('/').next().unwrap_or(key);
    let from_name = FILE.captures(file_name);
    let stamp = from_name.as_ref().map(|n| n["stamp"].to_string());
    // Both patterns name the same groups; the full key wins when it matches.
    let c = KEY.captures(key).or(from_name)?;
    Some(TrailKey {
        kind: kind_of(&c["kind"]),
        org_id: c.name("org").map(|m| m.as_str().to_string()),
        account: c["acct"].to_string(),
        region: c["region"].to_string(),
        delivery_date: format!("{}-{}-{}", &c["y"], &c["m"], &c["d"]),
        delivery_stamp: stamp,
    })
}

static DAY_DIR: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(
        r"(?:^|/)AWSLogs/(?:o-[a-z0-9]+/)?(?P<acct>\d{12})/(?P<kind>CloudTrail|CloudTrail-Digest)/(?P<region>[a-z0-9-]+)/(?P<y>\d{4})(?:/(?P<m>\d{2})(?:/(?P<d>\d{2}))?)?$",
    )
    .expect("valid day-folder regex")
});

/// A trail's year, month or day folder, of log files or of digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayDir {
    pub account: String,
    pub region: String,
    /// The delivery period it holds: `YYYY`, `YYYYMM` or `YYYYMMDD`.
    pub period: String,
    /// A `CloudTrail-Digest` folder rather than a `CloudTrail` one.
    pub digest: bool,
}

/// The [`DayDir`] a folder path is
/// (`…/AWSLogs/<account>/CloudTrail[-Digest]/<region>/YYYY[/MM[/DD]]`),
/// if it is one.
pub fn parse_day_dir(path: &str) -> Option<DayDir> {
    let c = DAY_DIR.captures(path)?;
    let part = |n: &str| c.name(n).map_or("", |m| m.as_str());
    Some(DayDir {
        account: c["acct"].to_string(),
        region: c["region"].to_string(),
        period: format!("{}{}{}", &c["y"], part("m"), part("d")),
        digest: &c["kind"] == "CloudTrail-Digest",
    })
}

/// Whether any folder of the key marks it as a digest or Insights object,
/// even when the key does not follow the full layout.
pub fn is_non_log_path(key: &str) -> Option<ObjectKind> {
    for part in key.split('/') {
        match part {
            "CloudTrail-Digest" => return Some(ObjectKind::Digest),
            "CloudTrail-Insight" => return Some(ObjectKind::Insight),
            _ => {}
        }
    }
    let name = key.rsplit('/').next().unwrap_or(key);
    if name.contains("_CloudTrail-Digest_") {
        return Some(ObjectKind::Digest);
    }
    if name.contains("_CloudTrail-Insight_") {
        return Some(ObjectKind::Insight);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_folders_are_recognised() {
        assert_eq!(
            parse_day_dir("x/AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2024/05/01"),
            Some(DayDir {
                account: "111122223333".into(),
                region: "us-east-1".into(),
                period: "20240501".into(),
                digest: false
            })
        );
        assert_eq!(
            parse_day_dir("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05").map(|d| d.period),
            Some("202405".into())
        );
        assert_eq!(
            parse_day_dir("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/02")
                .map(|d| (d.period, d.digest)),
            Some(("20240502".into(), true))
        );
        assert_eq!(
            parse_day_dir("AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/05/02"),
            None
        );
        assert_eq!(
            parse_day_dir("AWSLogs/111122223333/CloudTrail/us-east-1"),
            None
        );
    }

    #[test]
    fn full_s3_key_gives_account_region_and_delivery_date() {
        let k = parse_key("bucket-prefix/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/111122223333_CloudTrail_eu-west-1_20240501T0105Z_AbCdEf0123456789.json.gz")
            .expect("parses");
        assert_eq!(k.kind, ObjectKind::Log);
        assert_eq!(k.account, "111122223333");
        assert_eq!(k.region, "eu-west-1");
        assert_eq!(k.delivery_date, "2024-05-01");
        assert_eq!(k.delivery_stamp.as_deref(), Some("20240501T0105Z"));
        assert_eq!(k.org_id, None);
    }

    #[test]
    fn organization_trail_key_carries_the_org_id() {
        let k = parse_key("o-abc123defg/AWSLogs/o-abc123defg/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T0105Z_x.json.gz")
            .expect("parses");
        assert_eq!(k.org_id.as_deref(), Some("o-abc123defg"));
        assert_eq!(k.account, "111122223333");
    }

    #[test]
    fn bare_file_name_is_understood_without_its_prefix() {
        let k = parse_key(
            "copied/218007301253_CloudTrail_us-east-1_20230710T1145Z_7xgocspSowgK0Gto.json",
        )
        .expect("parses");
        assert_eq!(k.kind, ObjectKind::Log);
        assert_eq!(k.account, "218007301253");
        assert_eq!(k.region, "us-east-1");
        assert_eq!(k.delivery_date, "2023-07-10");
    }

    #[test]
    fn digest_and_insight_objects_are_not_logs() {
        let d = parse_key("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20240501T010000Z.json.gz")
            .expect("parses");
        assert_eq!(d.kind, ObjectKind::Digest);
        let i = parse_key("AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/05/01/111122223333_CloudTrail-Insight_us-east-1_20240501T0105Z_abc.json.gz")
            .expect("parses");
        assert_eq!(i.kind, ObjectKind::Insight);
        assert_eq!(
            is_non_log_path("x/CloudTrail-Digest/y.json.gz"),
            Some(ObjectKind::Digest)
        );
        assert_eq!(is_non_log_path("x/CloudTrail/y.json.gz"), None);
    }

    #[test]
    fn unrelated_names_are_not_trail_keys() {
        assert_eq!(parse_key("notes/readme.json"), None);
    }
}
