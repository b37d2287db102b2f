//! Reading the `cloudtrail` table back as CloudTrail records.
//!
//! The lake keeps Athena's lower-case column names, while rules (metric
//! filter patterns such as `$.userIdentity.type`) address records by
//! CloudTrail's own camelCase names. So each row is rebuilt as the JSON
//! record it came from: names restored, free-form objects (stored as their
//! JSON text) embedded as JSON again, `readOnly` a boolean again. The result
//! is NDJSON that the ordinary decoder reads, so detection over the lake
//! runs the very same code as detection over raw files.
//!
//! Only the columns of the table survive the round trip: a field that the
//! Athena table has no column for is not in the lake.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, AsArray, BooleanBuilder, RecordBatch, StringArray, StructArray};
use arrow::datatypes::TimestampMillisecondType;
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};
use std::collections::HashMap;

use trailwatch_core::backtest::prefilter::{Field, FieldMatcher, Prefilter};

use crate::error::LakeError;
use crate::partition::{PartitionKey, partition_files};
use crate::schema::is_identity_copy;
use crate::store::Store;

/// CloudTrail's spelling of a lake column or struct field. `in_resources`
/// tells the `resources` items apart, whose ARN is upper-case.
pub(crate) fn cloudtrail_name(lower: &str, in_resources: bool) -> &str {
    match lower {
        "arn" if in_resources => "ARN",
        "eventversion" => "eventVersion",
        "useridentity" => "userIdentity",
        "eventtime" => "eventTime",
        "eventsource" => "eventSource",
        "eventname" => "eventName",
        "awsregion" => "awsRegion",
        "sourceipaddress" => "sourceIPAddress",
        "useragent" => "userAgent",
        "errorcode" => "errorCode",
        "errormessage" => "errorMessage",
        "requestparameters" => "requestParameters",
        "responseelements" => "responseElements",
        "additionaleventdata" => "additionalEventData",
        "requestid" => "requestID",
        "eventid" => "eventID",
        "eventtype" => "eventType",
        "apiversion" => "apiVersion",
        "readonly" => "readOnly",
        "recipientaccountid" => "recipientAccountId",
        "serviceeventdetails" => "serviceEventDetails",
        "sharedeventid" => "sharedEventID",
        "vpcendpointid" => "vpcEndpointId",
        "vpcendpointaccountid" => "vpcEndpointAccountId",
        "eventcategory" => "eventCategory",
        "sessioncredentialfromconsole" => "sessionCredentialFromConsole",
        "edgedevicedetails" => "edgeDeviceDetails",
        "tlsdetails" => "tlsDetails",
        "insightdetails" => "insightDetails",
        "eventcontext" => "eventContext",
        "principalid" => "principalId",
        "accountid" => "accountId",
        "invokedby" => "invokedBy",
        "accesskeyid" => "accessKeyId",
        "username" => "userName",
        "identityprovider" => "identityProvider",
        "credentialid" => "credentialId",
        "onbehalfof" => "onBehalfOf",
        "userid" => "userId",
        "identitystorearn" => "identityStoreArn",
        "inscopeof" => "inScopeOf",
        "sessioncontext" => "sessionContext",
        "mfaauthenticated" => "mfaAuthenticated",
        "creationdate" => "creationDate",
        "sessionissuer" => "sessionIssuer",
        "webidfederationdata" => "webIdFederationData",
        "sourceidentity" => "sourceIdentity",
        "ec2roledelivery" => "ec2RoleDelivery",
        "assumedroot" => "assumedRoot",
        "updatedfields" => "updatedFields",
        "originalrequestid" => "originalRequestID",
        "originaleventid" => "originalEventID",
        "tlsversion" => "tlsVersion",
        "ciphersuite" => "cipherSuite",
        "clientprovidedhostheader" => "clientProvidedHostHeader",
        other => other,
    }
}

/// Columns stored as the JSON text of a free-form value.
fn is_json_text(lower: &str) -> bool {
    matches!(
        lower,
        "requestparameters"
            | "responseelements"
            | "additionaleventdata"
            | "serviceeventdetails"
            | "edgedevicedetails"
            | "insightdetails"
            | "eventcontext"
            | "inscopeof"
            | "webidfederationdata"
    )
}

/// Columns that CloudTrail writes as JSON booleans (the lake, like Athena,
/// stores them as text).
fn is_boolean(lower: &str) -> bool {
    lower == "readonly"
}

/// Write one text value as its JSON form: JSON text and booleans as they
/// are, anything else as a JSON string.
fn write_value(out: &mut Vec<u8>, lower: &str, text: &str) {
    let verbatim = (is_json_text(lower)
        && serde_json::from_str::<&serde_json::value::RawValue>(text).is_ok())
        || (is_boolean(lower) && (text == "true" || text == "false"));
    if verbatim {
        out.extend_from_slice(text.as_bytes());
    } else {
        // A `String` write into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// Write `{…}` for row `row` of a struct column; null children are left out.
fn write_struct(out: &mut Vec<u8>, s: &StructArray, row: usize, in_resources: bool) {
    out.push(b'{');
    let mut first = true;
    for (field, col) in s.fields().iter().zip(s.columns()) {
        if col.is_null(row) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        let lower = field.name().as_str();
        let _ = serde_json::to_writer(&mut *out, cloudtrail_name(lower, in_resources));
        out.push(b':');
        write_array_value(out, lower, col.as_ref(), row);
    }
    out.push(b'}');
}

fn write_array_value(out: &mut Vec<u8>, lower: &str, col: &dyn Array, row: usize) {
    match col.data_type() {
        DataType::Utf8 => write_value(out, lower, col.as_string::<i32>().value(row)),
        // The query engine reads top-level strings as views.
        DataType::Utf8View => write_value(out, lower, col.as_string_view().value(row)),
        DataType::Struct(_) => write_struct(out, col.as_struct(), row, lower == "item"),
        DataType::List(_) => {
            let list = col.as_list::<i32>();
            let items = list.value(row);
            out.push(b'[');
            for i in 0..items.len() {
                if i > 0 {
                    out.push(b',');
                }
                if items.is_null(i) {
                    out.extend_from_slice(b"null");
                } else {
                    write_array_value(out, "item", items.as_ref(), i);
                }
            }
            out.push(b']');
        }
        // The typed eventtimestamp duplicates eventTime; nothing else is
        // of another type in the table.
        _ => out.extend_from_slice(b"null"),
    }
}

/// Append each row of a `cloudtrail` batch to `out` as one NDJSON line.
pub fn batch_to_ndjson(batch: &RecordBatch, out: &mut Vec<u8>) {
    let schema = batch.schema();
    for row in 0..batch.num_rows() {
        out.push(b'{');
        let mut first = true;
        for (field, col) in schema.fields().iter().zip(batch.columns()) {
            let lower = field.name().as_str();
            if lower == "eventtimestamp" || is_identity_copy(lower) || col.is_null(row) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            let _ = serde_json::to_writer(&mut *out, cloudtrail_name(lower, false));
            out.push(b':');
            write_array_value(out, lower, col.as_ref(), row);
        }
        out.extend_from_slice(b"}\n");
    }
}

/// Which partitions to read.
#[derive(Debug, Default, Clone)]
pub struct TableFilter {
    /// Only partitions dated on or after this `YYYY-MM-DD`.
    pub since_date: Option<String>,
}

/// The table's Parquet files that pass `filter`, oldest partition date
/// first (then account and region), each partition's files in name order.
pub fn table_files(store: &Store, filter: &TableFilter) -> Result<Vec<String>, LakeError> {
    let mut parts: Vec<(PartitionKey, Vec<String>)> = partition_files(store)?
        .into_iter()
        .filter(|(pk, _)| filter.since_date.as_ref().is_none_or(|d| pk.date >= *d))
        .collect();
    parts.sort_by(|a, b| {
        (&a.0.date, &a.0.account, &a.0.region).cmp(&(&b.0.date, &b.0.account, &b.0.region))
    });
    Ok(parts
        .into_iter()
        .flat_map(|(_, mut files)| {
            files.sort();
            files
        })
        .collect())
}

/// Read one table file and hand its rows to `f` as NDJSON, a batch at a
/// time (bounded memory: one file's bytes and one batch's text).
pub fn file_as_ndjson(
    store: &Store,
    path: &str,
    mut f: impl FnMut(&[u8]) -> Result<(), LakeError>,
) -> Result<u64, LakeError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(store.get(path)?)?
        .with_batch_size(8192)
        .build()?;
    let mut rows = 0;
    let mut text = Vec::new();
    for batch in reader {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        text.clear();
        batch_to_ndjson(&batch, &mut text);
        f(&text)?;
    }
    Ok(rows)
}

/// Which rows a filtered read keeps: those in a window of event time
/// (epoch ms, `until` exclusive) that a prefilter admits.
#[derive(Debug, Clone)]
pub struct RowKeep {
    pub prefilter: Arc<Prefilter>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// [`file_as_ndjson`], reading first only the event time and the
/// prefilter's columns of every row, then, of the rows `keep` keeps, the
/// columns its rules read (Parquet's row filter: those are decoded for
/// those rows only; the records carry only those fields). Returns the rows in the window (kept or not). A file
/// without one of the columns (written before the identity copies) is
/// read whole: `None`, and the caller filters.
pub fn file_as_ndjson_where(
    store: &Store,
    path: &str,
    keep: &RowKeep,
    mut f: impl FnMut(&[u8]) -> Result<(), LakeError>,
) -> Result<Option<u64>, LakeError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(store.get(path)?)?;
    let fields = keep.prefilter.fields();
    let names: Vec<&str> = std::iter::once("eventtimestamp")
        .chain(fields.iter().map(|f| f.column()))
        .collect();
    let roots: Option<Vec<usize>> = names
        .iter()
        .map(|n| builder.schema().index_of(n).ok())
        .collect();
    let Some(mut roots) = roots else {
        return Ok(None);
    };
    roots.sort_unstable();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    // The rows that pass are read as the columns the rules read.
    let mut wanted: Vec<usize> = keep
        .prefilter
        .columns
        .iter()
        .filter_map(|c| builder.schema().index_of(c).ok())
        .collect();
    wanted.sort_unstable();
    let projection = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let in_window = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&in_window);
    let matchers: Vec<(Field, FieldMatcher)> = fields
        .iter()
        .map(|f| (*f, keep.prefilter.values_of(*f)))
        .collect();
    let (since_ms, until_ms) = (keep.since_ms, keep.until_ms);
    let predicate = ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
        // Columns of another type than written (never, in this crate's
        // files) admit nothing rather than panic.
        let times = batch
            .column_by_name("eventtimestamp")
            .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>().cloned());
        let texts: Vec<(&FieldMatcher, Option<StringArray>)> = matchers
            .iter()
            .map(|(f, m)| {
                let col = batch.column_by_name(f.column());
                (m, col.and_then(|c| c.as_string_opt::<i32>().cloned()))
            })
            .collect();
        // Names, sources and codes repeat: each distinct value is judged
        // once per batch.
        let mut judged: Vec<HashMap<&str, bool>> = vec![HashMap::new(); texts.len()];
        let mut out = BooleanBuilder::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let at = times
                .as_ref()
                .filter(|t| t.is_valid(row))
                .map(|t| t.value(row));
            let in_window = at.is_some_and(|at| {
                since_ms.is_none_or(|s| at >= s) && until_ms.is_none_or(|u| at < u)
            });
            counted.fetch_add(u64::from(in_window), Ordering::Relaxed);
            let admitted = in_window
                && texts.iter().zip(judged.iter_mut()).any(|((m, col), memo)| {
                    let Some(col) = col.as_ref().filter(|c| c.is_valid(row)) else {
                        return false;
                    };
                    let v = col.value(row);
                    *memo.entry(v).or_insert_with(|| m.admits(v))
                });
            out.append_value(admitted);
        }
        Ok(out.finish())
    });
    let reader = builder
        .with_projection(projection)
        .with_row_filter(RowFilter::new(vec![Box::new(predicate)]))
        .with_batch_size(8192)
        .build()?;
    let mut text = Vec::new();
    for batch in reader {
        text.clear();
        batch_to_ndjson(&batch?, &mut text);
        f(&text)?;
    }
    Ok(Some(in_window.load(Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::batch_of;
    use trailwatch_core::event::{DecodeOptions, Decoder, Step};

    const RECORD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA:alice","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","accessKeyId":"ASIAXXX","sessionContext":{"attributes":{"mfaAuthenticated":"true","creationDate":"2026-03-01T10:00:00Z"},"sessionIssuer":{"type":"Role","principalId":"AROA","arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333","userName":"Admin"}}},"eventTime":"2026-03-01T10:05:00Z","eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2","requestParameters":{"groupId":"sg-1","ipPermissions":{"items":[{"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]}},"responseElements":null,"requestID":"r-1","eventID":"e-1","readOnly":false,"resources":[{"ARN":"arn:aws:ec2:eu-west-1:111122223333:security-group/sg-1","accountId":"111122223333","type":"AWS::EC2::SecurityGroup"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.eu-west-1.amazonaws.com"}}"#;

    fn round_trip(record: &str) -> serde_json::Value {
        let batch = batch_of(record);
        let mut out = Vec::new();
        batch_to_ndjson(&batch, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn a_row_becomes_the_record_it_came_from() {
        let back = round_trip(RECORD);
        let mut original: serde_json::Value = serde_json::from_str(RECORD).unwrap();
        // Fields without a column in the Athena table, and nulls, are not kept.
        let obj = original.as_object_mut().unwrap();
        obj.remove("managementEvent");
        obj.remove("responseElements");
        assert_eq!(back, original);
    }

    #[test]
    fn a_rebuilt_record_decodes_and_matches_the_same_patterns() {
        let back = round_trip(RECORD).to_string();
        let pattern = trailwatch_core::pattern::Pattern::parse(
            r#"{ ($.eventName = AuthorizeSecurityGroupIngress) && ($.requestParameters.ipPermissions.items[0].ipRanges.items[0].cidrIp = "0.0.0.0/0") && ($.readOnly IS FALSE) && ($.userIdentity.sessionContext.sessionIssuer.userName = "Admin") && ($.resources[0].ARN = "arn:aws:ec2:*") }"#,
        )
        .unwrap();
        let mut dec = Decoder::from_reader(
            "t",
            std::io::Cursor::new(back.into_bytes()),
            DecodeOptions::default(),
        )
        .unwrap();
        let Some(Step::Record(r)) = dec.next_step() else {
            panic!("no record");
        };
        let doc = trailwatch_core::pattern::RecordDoc::new(&r);
        assert!(pattern.matches(&doc));
    }
}
