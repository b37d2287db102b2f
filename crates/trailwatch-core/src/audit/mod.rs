//! Trail posture audit: a trail's configuration, read from Terraform
//! ([`terraform`]) or from the AWS CLI's JSON ([`aws_json`]), checked
//! against the decisions that make CloudTrail trustworthy (multi-region,
//! organization-wide, validated, encrypted, versioned, alarmed, complete);
//! and blind spots found in the data itself ([`coverage`]).

pub mod aws_json;
pub mod coverage;
pub mod terraform;

use serde::Serialize;

use crate::rules::Severity;

/// What is known of a trail's log bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BucketConfig {
    pub name: Option<String>,
    pub versioning: Option<bool>,
    /// The default encryption algorithm (`AES256`, `aws:kms`, …).
    pub sse_algorithm: Option<String>,
}

/// Management events recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadWrite {
    All,
    ReadOnly,
    WriteOnly,
    None,
}

/// What is known of one trail; `None` where the source does not say (a
/// Terraform variable, say).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrailConfig {
    pub name: String,
    /// Where the configuration was read.
    pub origin: String,
    pub multi_region: Option<bool>,
    pub organization: Option<bool>,
    pub log_file_validation: Option<bool>,
    pub global_service_events: Option<bool>,
    pub cloudwatch_logs: Option<bool>,
    /// The trail's own KMS key for log files.
    pub kms_key: Option<bool>,
    pub management_events: Option<ReadWrite>,
    pub s3_data_events: Option<bool>,
    pub bucket: BucketConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The source does not say (a variable, a bucket defined elsewhere).
    Unknown,
}

/// The outcome of one check on one trail.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub trail: String,
    pub check: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub status: Status,
    pub detail: String,
    pub fix: &'static str,
}

fn status(v: Option<bool>) -> Status {
    match v {
        Some(true) => Status::Pass,
        Some(false) => Status::Fail,
        None => Status::Unknown,
    }
}

fn said(v: Option<bool>, yes: &str, no: &str) -> String {
    match v {
        Some(true) => yes.into(),
        Some(false) => no.into(),
        None => "not determinable from the configuration given".into(),
    }
}

/// One key decision about a trail: what it is, how bad getting it wrong
/// is, how to fix it, and how to judge a trail on it (pass, fail or not
/// determinable, with what the configuration says).
struct Check {
    id: &'static str,
    title: &'static str,
    severity: Severity,
    fix: &'static str,
    judge: fn(&TrailConfig) -> (Option<bool>, String),
}

/// The checks, in the order findings are listed.
const CHECKS: &[Check] = &[
    Check {
        id: "multi-region",
        title: "Trail records every region",
        severity: Severity::P2,
        fix: "set is_multi_region_trail = true (aws cloudtrail update-trail --is-multi-region-trail)",
        judge: |t| {
            let v = t.multi_region;
            (
                v,
                said(
                    v,
                    "multi-region trail",
                    "single-region trail: activity in other regions is not recorded",
                ),
            )
        },
    },
    Check {
        id: "organization",
        title: "Trail covers every account of the organization",
        severity: Severity::P3,
        fix: "create it from the management account with is_organization_trail = true",
        judge: |t| {
            let v = t.organization;
            (
                v,
                said(
                    v,
                    "organization trail",
                    "account trail: new member accounts are not covered",
                ),
            )
        },
    },
    Check {
        id: "log-file-validation",
        title: "Log file integrity validation is on",
        severity: Severity::P1,
        fix: "set enable_log_file_validation = true (aws cloudtrail update-trail --enable-log-file-validation)",
        judge: |t| {
            let v = t.log_file_validation;
            (
                v,
                said(
                    v,
                    "digest files are written",
                    "no digest files: tampered or deleted logs cannot be detected",
                ),
            )
        },
    },
    Check {
        id: "global-service-events",
        title: "Global service events (IAM, STS, CloudFront) are recorded",
        severity: Severity::P2,
        fix: "set include_global_service_events = true",
        judge: |t| {
            let v = t.global_service_events;
            (
                v,
                said(v, "included", "IAM and STS events are not recorded"),
            )
        },
    },
    Check {
        id: "kms-encryption",
        title: "Logs are encrypted with a KMS key",
        severity: Severity::P3,
        fix: "set kms_key_id on the trail, or sse_algorithm = \"aws:kms\" in the bucket's server_side_encryption_configuration",
        judge: |t| {
            match (t.kms_key, t.bucket.sse_algorithm.as_deref()) {
            (Some(true), _) => (Some(true), "the trail encrypts log files with its KMS key".to_string()),
            (_, Some(alg)) if alg.starts_with("aws:kms") => {
                (Some(true), format!("the bucket encrypts with {alg}"))
            }
            (_, Some(alg)) => (
                Some(false),
                format!("the bucket encrypts with {alg}, not KMS: no key policy guards reading the logs"),
            ),
            _ => (
                None,
                "the trail has no KMS key, and the bucket's encryption is not in the configuration given (add get-bucket-encryption output)".to_string(),
            ),
        }
        },
    },
    Check {
        id: "bucket-versioning",
        title: "The log bucket keeps versions",
        severity: Severity::P3,
        fix: "add aws_s3_bucket_versioning with status = \"Enabled\" (and MFA delete)",
        judge: |t| {
            let v = t.bucket.versioning;
            (
                v,
                said(
                    v,
                    "versioning enabled",
                    "versioning off: an overwritten or deleted log is gone",
                ),
            )
        },
    },
    Check {
        id: "cloudwatch-logs",
        title: "Events are delivered to CloudWatch Logs",
        severity: Severity::P3,
        fix: "set cloud_watch_logs_group_arn and cloud_watch_logs_role_arn",
        judge: |t| {
            let v = t.cloudwatch_logs;
            (
                v,
                said(
                    v,
                    "delivered to a log group",
                    "no CloudWatch Logs delivery: metric filter alarms cannot see events (trailwatch watch can)",
                ),
            )
        },
    },
    Check {
        id: "management-events",
        title: "Management events, read and write, are recorded",
        severity: Severity::P2,
        fix: "event_selector { read_write_type = \"All\", include_management_events = true }",
        judge: |t| {
            let detail = match t.management_events {
                Some(ReadWrite::All) => "read and write".into(),
                Some(ReadWrite::ReadOnly) => "read-only: changes are not recorded".into(),
                Some(ReadWrite::WriteOnly) => {
                    "write-only: reconnaissance (List*, Describe*, Get*) is not recorded".into()
                }
                Some(ReadWrite::None) => "management events are excluded".into(),
                None => said(None, "", ""),
            };
            (t.management_events.map(|m| m == ReadWrite::All), detail)
        },
    },
    Check {
        id: "s3-data-events",
        title: "S3 object-level (data) events are recorded",
        severity: Severity::P3,
        fix: "data_resource { type = \"AWS::S3::Object\", values = [\"arn:aws:s3\"] } in an event_selector",
        judge: |t| {
            let v = t.s3_data_events;
            (
                v,
                said(
                    v,
                    "recorded",
                    "GetObject/PutObject/DeleteObject are not recorded: exfiltration is invisible",
                ),
            )
        },
    },
];

/// Check one trail against the key decisions.
pub fn check(t: &TrailConfig) -> Vec<Finding> {
    CHECKS
        .iter()
        .map(|c| {
            let (verdict, detail) = (c.judge)(t);
            Finding {
                trail: t.name.clone(),
                check: c.id,
                title: c.title,
                severity: c.severity,
                status: status(verdict),
                detail,
                fix: c.fix,
            }
        })
        .collect()
}
