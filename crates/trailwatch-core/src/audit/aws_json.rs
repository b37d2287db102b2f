//! Trail configurations from the AWS CLI's JSON, each document recognised
//! by its shape:
//! - `aws cloudtrail describe-trails` (`{"trailList": […]}`) or `get-trail`
//!   (`{"Trail": {…}}`): the trails;
//! - `aws cloudtrail get-event-selectors` (`{"TrailARN", "EventSelectors" |
//!   "AdvancedEventSelectors"}`): matched to its trail by ARN or name;
//! - `aws s3api get-bucket-versioning` (`{"Status": …}`) and
//!   `get-bucket-encryption` (`{"ServerSideEncryptionConfiguration": …}`):
//!   applied to the trails' bucket (pass those of the trail's bucket).

use serde::Deserialize;
use serde_json::Value;

use super::{BucketConfig, ReadWrite, TrailConfig};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Trail {
    name: String,
    #[serde(default)]
    trail_arn: Option<String>,
    #[serde(default)]
    s3_bucket_name: Option<String>,
    #[serde(default)]
    is_multi_region_trail: Option<bool>,
    #[serde(default)]
    is_organization_trail: Option<bool>,
    #[serde(default)]
    log_file_validation_enabled: Option<bool>,
    #[serde(default)]
    include_global_service_events: Option<bool>,
    #[serde(default)]
    cloud_watch_logs_log_group_arn: Option<String>,
    #[serde(default)]
    kms_key_id: Option<String>,
}

/// Why a document could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct JsonError {
    pub origin: String,
    pub message: String,
}

fn management_and_s3(doc: &Value) -> (Option<ReadWrite>, Option<bool>) {
    let mut read = false;
    let mut write = false;
    let mut s3 = false;
    for sel in doc["EventSelectors"].as_array().into_iter().flatten() {
        let mgmt = sel["IncludeManagementEvents"].as_bool().unwrap_or(true);
        match sel["ReadWriteType"].as_str().unwrap_or("All") {
            "All" => {
                read |= mgmt;
                write |= mgmt;
            }
            "ReadOnly" => read |= mgmt,
            "WriteOnly" => write |= mgmt,
            _ => {}
        }
        for dr in sel["DataResources"].as_array().into_iter().flatten() {
            s3 |= dr["Type"] == "AWS::S3::Object";
        }
    }
    for sel in doc["AdvancedEventSelectors"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let field = |name: &str| -> Vec<String> {
            sel["FieldSelectors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["Field"] == name)
                .flat_map(|f| f["Equals"].as_array().cloned().unwrap_or_default())
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let category = field("eventCategory");
        if category.iter().any(|c| c == "Management") {
            match field("readOnly").as_slice() {
                [v] if v == "true" => read = true,
                [v] if v == "false" => write = true,
                _ => {
                    read = true;
                    write = true;
                }
            }
        }
        if category.iter().any(|c| c == "Data")
            && field("resources.type")
                .iter()
                .any(|t| t == "AWS::S3::Object")
        {
            s3 = true;
        }
    }
    let mgmt = match (read, write) {
        (true, true) => ReadWrite::All,
        (true, false) => ReadWrite::ReadOnly,
        (false, true) => ReadWrite::WriteOnly,
        (false, false) => ReadWrite::None,
    };
    (Some(mgmt), Some(s3))
}

/// Trails from AWS CLI documents `(origin, text)`.
pub fn trails_from_aws_json(docs: &[(String, String)]) -> Result<Vec<TrailConfig>, JsonError> {
    let mut trails: Vec<(TrailConfig, Option<String>)> = Vec::new();
    let mut selectors: Vec<Value> = Vec::new();
    let mut versioning: Option<bool> = None;
    let mut sse: Option<String> = None;
    for (origin, text) in docs {
        let err = |message: String| JsonError {
            origin: origin.clone(),
            message,
        };
        let doc: Value = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        let listed: Vec<Value> = if let Some(list) = doc["trailList"].as_array() {
            list.clone()
        } else if doc["Trail"].is_object() {
            vec![doc["Trail"].clone()]
        } else {
            Vec::new()
        };
        if !listed.is_empty() || doc.get("trailList").is_some() {
            for t in listed {
                let t: Trail = serde_json::from_value(t).map_err(|e| err(e.to_string()))?;
                trails.push((
                    TrailConfig {
                        name: t.name,
                        origin: origin.clone(),
                        multi_region: Some(t.is_multi_region_trail.unwrap_or(false)),
                        organization: Some(t.is_organization_trail.unwrap_or(false)),
                        log_file_validation: Some(t.log_file_validation_enabled.unwrap_or(false)),
                        global_service_events: Some(
                            t.include_global_service_events.unwrap_or(false),
                        ),
                        cloudwatch_logs: Some(t.cloud_watch_logs_log_group_arn.is_some()),
                        kms_key: Some(t.kms_key_id.is_some()),
                        // Known only from get-event-selectors.
                        management_events: None,
                        s3_data_events: None,
                        bucket: BucketConfig {
                            name: t.s3_bucket_name,
                            versioning: None,
                            sse_algorithm: None,
                        },
                    },
                    t.trail_arn,
                ));
            }
        } else if doc.get("EventSelectors").is_some() || doc.get("AdvancedEventSelectors").is_some()
        {
            selectors.push(doc);
        } else if doc.get("ServerSideEncryptionConfiguration").is_some() {
            sse = doc["ServerSideEncryptionConfiguration"]["Rules"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|r| {
                    r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
                        .as_str()
                        .map(str::to_string)
                });
        } else if doc.get("Status").is_some() || doc.as_object().is_some_and(|o| o.is_empty()) {
            // get-bucket-versioning prints {} for a bucket never versioned.
            versioning = Some(doc["Status"] == "Enabled");
        } else {
            return Err(err(
                "not describe-trails, get-trail, get-event-selectors, get-bucket-versioning \
                 or get-bucket-encryption output"
                    .into(),
            ));
        }
    }
    let single = trails.len() == 1;
    let mut out = Vec::new();
    for (mut t, arn) in trails {
        let sel = selectors.iter().find(|s| {
            let target = s["TrailARN"].as_str().unwrap_or_default();
            single
                || arn.as_deref() == Some(target)
                || target.ends_with(&format!(":trail/{}", t.name))
        });
        if let Some(sel) = sel {
            (t.management_events, t.s3_data_events) = management_and_s3(sel);
        }
        t.bucket.versioning = versioning;
        t.bucket.sse_algorithm = sse.clone();
        out.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_trails_with_selectors_and_bucket_settings() {
        let docs = vec![
            (
                "trails.json".to_string(),
                r#"{"trailList":[{"Name":"main","S3BucketName":"logs","IsMultiRegionTrail":false,
                   "IsOrganizationTrail":false,"LogFileValidationEnabled":false,
                   "IncludeGlobalServiceEvents":true,"TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}]}"#
                    .to_string(),
            ),
            (
                "selectors.json".to_string(),
                r#"{"TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/main",
                   "EventSelectors":[{"ReadWriteType":"All","IncludeManagementEvents":true,
                   "DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}]}"#
                    .to_string(),
            ),
            ("versioning.json".to_string(), "{}".to_string()),
            (
                "encryption.json".to_string(),
                r#"{"ServerSideEncryptionConfiguration":{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"}}]}}"#
                    .to_string(),
            ),
        ];
        let t = trails_from_aws_json(&docs).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].multi_region, Some(false));
        assert_eq!(t[0].management_events, Some(ReadWrite::All));
        assert_eq!(t[0].s3_data_events, Some(true));
        assert_eq!(t[0].bucket.versioning, Some(false));
        assert_eq!(t[0].bucket.sse_algorithm.as_deref(), Some("aws:kms"));
        assert!(trails_from_aws_json(&[("x".into(), r#"{"a":1}"#.into())]).is_err());
        assert!(trails_from_aws_json(&[("x".into(), "nope".into())]).is_err());
    }
}
