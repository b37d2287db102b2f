//! Trail configurations from Terraform: `aws_cloudtrail` resources, their
//! `event_selector` / `advanced_event_selector` blocks, and the log bucket:
//! `aws_s3_bucket` (inline `versioning` and
//! `server_side_encryption_configuration`, as in provider v3) or the
//! split-out `aws_s3_bucket_versioning` and
//! `aws_s3_bucket_server_side_encryption_configuration` (provider v4+).
//! Values Terraform can only know at plan time (variables, locals) are
//! reported as unknown, never guessed.

use std::collections::BTreeMap;

use hcl::{Block, Body, Expression};

use super::{BucketConfig, ReadWrite, TrailConfig};
use crate::rules::TerraformError;
use crate::tf::{attr, resources, text};

/// A literal boolean (also `"true"`); `None` for anything computed.
fn boolean(e: Option<&Expression>) -> Option<bool> {
    match e? {
        Expression::Bool(b) => Some(*b),
        Expression::String(s) if s == "true" => Some(true),
        Expression::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// A literal boolean attribute with Terraform's default when absent.
fn flag(block: &Block, key: &str, default: bool) -> Option<bool> {
    match attr(block, key) {
        None => Some(default),
        e => boolean(e),
    }
}

fn blocks<'b>(block: &'b Block, name: &'b str) -> impl Iterator<Item = &'b Block> + 'b {
    block
        .body()
        .blocks()
        .filter(move |b| b.identifier() == name)
}

/// `aws_s3_bucket.NAME.id` / `.bucket` / `.arn` → NAME.
fn bucket_resource(e: &Expression) -> Option<String> {
    let s = e.to_string();
    let rest = s
        .trim()
        .trim_start_matches("${")
        .strip_prefix("aws_s3_bucket.")?;
    Some(rest.split('.').next()?.to_string())
}

fn list_texts(e: Option<&Expression>) -> Vec<String> {
    match e {
        Some(Expression::Array(items)) => items.iter().filter_map(|i| text(Some(i))).collect(),
        Some(other) => text(Some(other)).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Management events and S3 data events from the selectors.
fn selectors(trail: &Block) -> (Option<ReadWrite>, Option<bool>) {
    let basic: Vec<&Block> = blocks(trail, "event_selector").collect();
    let advanced: Vec<&Block> = blocks(trail, "advanced_event_selector").collect();
    if basic.is_empty() && advanced.is_empty() {
        // A trail without selectors logs every management event, no data events.
        return (Some(ReadWrite::All), Some(false));
    }
    let mut read = Some(false);
    let mut write = Some(false);
    let mut s3 = Some(false);
    let or = |acc: Option<bool>, v: Option<bool>| match (acc, v) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    };
    for sel in &basic {
        let rw = text(attr(sel, "read_write_type")).unwrap_or_else(|| "All".into());
        let mgmt = flag(sel, "include_management_events", true);
        let (r, w) = match rw.as_str() {
            "All" => (true, true),
            "ReadOnly" => (true, false),
            "WriteOnly" => (false, true),
            _ => {
                read = or(read, None);
                write = or(write, None);
                (false, false)
            }
        };
        read = or(read, mgmt.map(|m| m && r));
        write = or(write, mgmt.map(|m| m && w));
        for dr in blocks(sel, "data_resource") {
            if text(attr(dr, "type")).as_deref() == Some("AWS::S3::Object") {
                s3 = Some(true);
            }
        }
    }
    for sel in &advanced {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for fs in blocks(sel, "field_selector") {
            if let Some(f) = text(attr(fs, "field")) {
                fields.insert(f, list_texts(attr(fs, "equals")));
            }
        }
        let category = fields.get("eventCategory").cloned().unwrap_or_default();
        if category.iter().any(|c| c == "Management") {
            match fields.get("readOnly").map(|v| v.as_slice()) {
                Some([v]) if v == "true" => read = Some(true),
                Some([v]) if v == "false" => write = Some(true),
                _ => {
                    read = Some(true);
                    write = Some(true);
                }
            }
        }
        if category.iter().any(|c| c == "Data")
            && fields
                .get("resources.type")
                .is_some_and(|t| t.iter().any(|t| t == "AWS::S3::Object"))
        {
            s3 = Some(true);
        }
    }
    let mgmt = match (read, write) {
        (Some(true), Some(true)) => Some(ReadWrite::All),
        (Some(true), Some(false)) => Some(ReadWrite::ReadOnly),
        (Some(false), Some(true)) => Some(ReadWrite::WriteOnly),
        (Some(false), Some(false)) => Some(ReadWrite::None),
        _ => None,
    };
    (mgmt, s3)
}

/// The `sse_algorithm` of a `rule { apply_server_side_encryption_by_default {…} }`.
fn sse_of(block: &Block) -> Option<String> {
    blocks(block, "rule")
        .flat_map(|r| blocks(r, "apply_server_side_encryption_by_default"))
        .find_map(|d| text(attr(d, "sse_algorithm")))
}

/// Every bucket defined in the files, by resource name, and a map from
/// bucket names to resource names.
fn buckets(body: &Body) -> (BTreeMap<String, BucketConfig>, BTreeMap<String, String>) {
    let mut by_resource: BTreeMap<String, BucketConfig> = BTreeMap::new();
    let mut by_name = BTreeMap::new();
    for (res, b) in resources(body, "aws_s3_bucket") {
        let name = text(attr(b, "bucket"));
        if let Some(n) = &name {
            by_name.insert(n.clone(), res.clone());
        }
        let versioning = blocks(b, "versioning")
            .next()
            .map(|v| boolean(attr(v, "enabled")).unwrap_or(false));
        // Since January 2023 S3 encrypts every bucket with SSE-S3 unless told
        // otherwise: a bucket defined here without a configuration has that.
        let sse = blocks(b, "server_side_encryption_configuration")
            .find_map(sse_of)
            .or_else(|| Some("AES256 (the S3 default)".to_string()));
        by_resource.insert(
            res,
            BucketConfig {
                name,
                versioning,
                sse_algorithm: sse,
            },
        );
    }
    let target = |b: &Block, by_name: &BTreeMap<String, String>| {
        attr(b, "bucket").and_then(|e| {
            bucket_resource(e).or_else(|| text(Some(e)).and_then(|n| by_name.get(&n).cloned()))
        })
    };
    for (_, b) in resources(body, "aws_s3_bucket_versioning") {
        if let Some(res) = target(b, &by_name) {
            let status =
                blocks(b, "versioning_configuration").find_map(|v| text(attr(v, "status")));
            by_resource.entry(res).or_default().versioning =
                Some(status.as_deref() == Some("Enabled"));
        }
    }
    for (_, b) in resources(body, "aws_s3_bucket_server_side_encryption_configuration") {
        if let Some(res) = target(b, &by_name) {
            by_resource.entry(res).or_default().sse_algorithm = sse_of(b);
        }
    }
    (by_resource, by_name)
}

/// Every `aws_cloudtrail` in the given files (read together, as Terraform
/// reads a module).
pub fn trails_from_terraform(
    files: &[(String, String)],
) -> Result<Vec<TrailConfig>, TerraformError> {
    let mut body = Body::builder();
    for (origin, source) in files {
        crate::nesting::check_hcl(source).map_err(|e| TerraformError::Hcl {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        let parsed = hcl::parse(source).map_err(|e| TerraformError::Hcl {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        body = body.add_structures(parsed);
    }
    let body = body.build();
    let origin = files
        .iter()
        .map(|(o, _)| o.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let (bucket_map, by_name) = buckets(&body);
    let mut out = Vec::new();
    for (res, b) in resources(&body, "aws_cloudtrail") {
        let (management_events, s3_data_events) = selectors(b);
        let bucket = attr(b, "s3_bucket_name")
            .and_then(|e| {
                bucket_resource(e).or_else(|| text(Some(e)).and_then(|n| by_name.get(&n).cloned()))
            })
            .and_then(|r| bucket_map.get(&r).cloned())
            .unwrap_or_else(|| BucketConfig {
                name: text(attr(b, "s3_bucket_name")),
                versioning: None,
                sse_algorithm: None,
            });
        out.push(TrailConfig {
            name: text(attr(b, "name")).unwrap_or(res),
            origin: origin.clone(),
            multi_region: flag(b, "is_multi_region_trail", false),
            organization: flag(b, "is_organization_trail", false),
            log_file_validation: flag(b, "enable_log_file_validation", false),
            global_service_events: flag(b, "include_global_service_events", true),
            cloudwatch_logs: Some(attr(b, "cloud_watch_logs_group_arn").is_some()),
            kms_key: Some(attr(b, "kms_key_id").is_some()),
            management_events,
            s3_data_events,
            bucket,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Status, check};

    fn trail(tf: &str) -> TrailConfig {
        let mut t = trails_from_terraform(&[("t.tf".into(), tf.into())]).unwrap();
        assert_eq!(t.len(), 1);
        t.remove(0)
    }

    fn failed(t: &TrailConfig) -> Vec<&'static str> {
        check(t)
            .into_iter()
            .filter(|f| f.status == Status::Fail)
            .map(|f| f.check)
            .collect()
    }

    #[test]
    fn split_out_bucket_resources_and_advanced_selectors_are_read() {
        let t = trail(
            r#"
resource "aws_cloudtrail" "t" {
  name = "main"
  s3_bucket_name = "logs-bucket"
  is_multi_region_trail = true
  enable_log_file_validation = var.validate
  advanced_event_selector {
    field_selector {
      field = "eventCategory"
      equals = ["Management"]
    }
    field_selector {
      field = "readOnly"
      equals = ["false"]
    }
  }
  advanced_event_selector {
    field_selector {
      field = "eventCategory"
      equals = ["Data"]
    }
    field_selector {
      field = "resources.type"
      equals = ["AWS::S3::Object"]
    }
  }
}
resource "aws_s3_bucket" "logs" { bucket = "logs-bucket" }
resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration { status = "Suspended" }
}
resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.bucket
  rule {
    apply_server_side_encryption_by_default { sse_algorithm = "AES256" }
  }
}
"#,
        );
        assert_eq!(t.multi_region, Some(true));
        assert_eq!(t.log_file_validation, None);
        assert_eq!(t.management_events, Some(ReadWrite::WriteOnly));
        assert_eq!(t.s3_data_events, Some(true));
        assert_eq!(t.bucket.versioning, Some(false));
        assert_eq!(t.bucket.sse_algorithm.as_deref(), Some("AES256"));
        let f = failed(&t);
        for c in [
            "organization",
            "kms-encryption",
            "bucket-versioning",
            "cloudwatch-logs",
            "management-events",
        ] {
            assert!(f.contains(&c), "{c} should fail: {f:?}");
        }
        assert!(
            !f.contains(&"log-file-validation"),
            "a variable is unknown, not failed"
        );
    }

    #[test]
    fn a_bare_trail_has_terraforms_defaults() {
        let t = trail(
            r#"resource "aws_cloudtrail" "t" {
  name = "x"
  s3_bucket_name = "b"
}"#,
        );
        assert_eq!(t.multi_region, Some(false));
        assert_eq!(t.global_service_events, Some(true));
        assert_eq!(t.management_events, Some(ReadWrite::All));
        assert_eq!(t.s3_data_events, Some(false));
        assert_eq!(t.bucket.versioning, None);
    }
}
