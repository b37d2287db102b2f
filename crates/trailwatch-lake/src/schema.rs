//! The Arrow schema of the `cloudtrail` table, mirroring the Athena
//! CloudTrail table users already query (`cloudtrail-record.md` §7).
//!
//! Every column and struct field name is lower-case: DataFusion lower-cases
//! unquoted identifiers but matches struct fields case-sensitively, so a
//! lower-case schema is what makes `userIdentity.sessionContext.sessionIssuer`
//! and `useridentity.arn` both resolve, as they do in Athena.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, TimeUnit};

/// Top-level copies of the `useridentity` fields investigations look up
/// (`(copy column, field)`), written at ingest: DataFusion prunes row
/// groups by statistics and bloom filters on top-level columns only, so a
/// filter on `useridentity.type` reads every row group while one on
/// `useridentity_type` skips those that cannot match. The query engine
/// adds the copy's filter beside the nested one (`trailwatch_sql::pruning`);
/// files written before them (layout 2) keep working, and `lake compact`
/// rewrites them with the copies.
pub const IDENTITY_COPIES: &[(&str, &str)] = &[
    ("useridentity_type", "type"),
    ("useridentity_arn", "arn"),
    ("useridentity_accesskeyid", "accesskeyid"),
];

/// Whether `name` is one of the [`IDENTITY_COPIES`] (not part of a record).
pub fn is_identity_copy(name: &str) -> bool {
    IDENTITY_COPIES.iter().any(|(c, _)| *c == name)
}

/// `batch` (of the `cloudtrail` table, in this layout or an older one)
/// with the schema of [`cloudtrail_schema`]: the identity copies computed
/// from `useridentity` where the batch lacks them.
pub fn with_identity_copies(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = cloudtrail_schema();
    let identity = batch
        .column_by_name("useridentity")
        .ok_or_else(|| ArrowError::SchemaError("no useridentity column".into()))?
        .as_struct();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let name = field.name().as_str();
        if let Some(col) = batch.column_by_name(name) {
            columns.push(Arc::clone(col));
            continue;
        }
        let Some((_, inner)) = IDENTITY_COPIES.iter().find(|(c, _)| *c == name) else {
            return Err(ArrowError::SchemaError(format!("no {name} column")));
        };
        let child = identity
            .column_by_name(inner)
            .ok_or_else(|| ArrowError::SchemaError(format!("no useridentity.{inner}")))?
            .as_string::<i32>();
        let copy: StringArray = (0..batch.num_rows())
            .map(|i| (identity.is_valid(i) && child.is_valid(i)).then(|| child.value(i)))
            .collect();
        columns.push(Arc::new(copy));
    }
    RecordBatch::try_new(schema, columns)
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn object(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

/// `useridentity`, including `sessioncontext` as Athena declares it.
fn user_identity() -> Field {
    let attributes = object(
        "attributes",
        vec![text("mfaauthenticated"), text("creationdate")],
    );
    let issuer = object(
        "sessionissuer",
        vec![
            text("type"),
            text("principalid"),
            text("arn"),
            text("accountid"),
            text("username"),
        ],
    );
    let session = object(
        "sessioncontext",
        vec![
            attributes,
            issuer,
            text("webidfederationdata"),
            text("sourceidentity"),
            text("ec2roledelivery"),
            text("assumedroot"),
        ],
    );
    object(
        "useridentity",
        vec![
            text("type"),
            text("principalid"),
            text("arn"),
            text("accountid"),
            text("invokedby"),
            text("accesskeyid"),
            text("username"),
            text("identityprovider"),
            text("credentialid"),
            object("onbehalfof", vec![text("userid"), text("identitystorearn")]),
            text("inscopeof"),
            session,
        ],
    )
}

/// The record columns, in Athena's order, plus `eventtimestamp` (the typed
/// twin of the string `eventtime`, for pruning). Partition columns
/// (`account`, `region`, `date`) come from the Hive path, not the file.
pub fn cloudtrail_schema() -> Arc<Schema> {
    let resource = Field::new(
        "item",
        DataType::Struct(Fields::from(vec![
            text("arn"),
            text("accountid"),
            text("type"),
        ])),
        true,
    );
    Arc::new(Schema::new(vec![
        text("eventversion"),
        user_identity(),
        text("eventtime"),
        Field::new(
            "eventtimestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
            true,
        ),
        text("eventsource"),
        text("eventname"),
        text("awsregion"),
        text("sourceipaddress"),
        text("useragent"),
        text("errorcode"),
        text("errormessage"),
        text("requestparameters"),
        text("responseelements"),
        text("additionaleventdata"),
        text("requestid"),
        text("eventid"),
        Field::new("resources", DataType::List(Arc::new(resource)), true),
        text("eventtype"),
        text("apiversion"),
        text("readonly"),
        text("recipientaccountid"),
        text("serviceeventdetails"),
        text("sharedeventid"),
        text("vpcendpointid"),
        text("vpcendpointaccountid"),
        text("eventcategory"),
        object(
            "addendum",
            vec![
                text("reason"),
                text("updatedfields"),
                text("originalrequestid"),
                text("originaleventid"),
            ],
        ),
        text("sessioncredentialfromconsole"),
        text("edgedevicedetails"),
        object(
            "tlsdetails",
            vec![
                text("tlsversion"),
                text("ciphersuite"),
                text("clientprovidedhostheader"),
            ],
        ),
        text("insightdetails"),
        text("eventcontext"),
        text(IDENTITY_COPIES[0].0),
        text(IDENTITY_COPIES[1].0),
        text(IDENTITY_COPIES[2].0),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_names(fields: &Fields, out: &mut Vec<String>) {
        for f in fields {
            out.push(f.name().clone());
            match f.data_type() {
                DataType::Struct(inner) => all_names(inner, out),
                DataType::List(item) => {
                    if let DataType::Struct(inner) = item.data_type() {
                        all_names(inner, out);
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn every_column_and_struct_field_is_lower_case() {
        let schema = cloudtrail_schema();
        let mut names = Vec::new();
        all_names(schema.fields(), &mut names);
        assert!(names.len() > 60);
        for n in names {
            assert_eq!(n, n.to_lowercase(), "{n} must be lower-case");
        }
    }

    #[test]
    fn identity_copies_are_the_nested_fields_also_for_older_batches() {
        let batch = crate::batch::batch_of(concat!(
            r#"{"eventVersion":"1.08","eventTime":"2026-04-01T00:00:00Z","eventID":"a","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","eventType":"AwsApiCall","recipientAccountId":"111122223333","userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root","accessKeyId":"AKIA1"}}"#,
            "\n",
            r#"{"eventVersion":"1.08","eventTime":"2026-04-01T00:00:00Z","eventID":"b","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","eventType":"AwsServiceEvent","recipientAccountId":"111122223333"}"#,
            "\n",
        ));
        assert_eq!(batch.num_rows(), 2);
        let copy = |b: &RecordBatch, c: &str| -> Vec<Option<String>> {
            b.column_by_name(c)
                .expect("copy column")
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        };
        assert_eq!(
            copy(&batch, "useridentity_type"),
            vec![Some("Root".into()), None]
        );
        assert_eq!(
            copy(&batch, "useridentity_accesskeyid"),
            vec![Some("AKIA1".into()), None]
        );
        // A batch of a file written before the copies gets them.
        let older = batch
            .project(&(0..batch.num_columns() - IDENTITY_COPIES.len()).collect::<Vec<_>>())
            .expect("project");
        let upgraded = with_identity_copies(&older).expect("upgraded");
        assert_eq!(upgraded.schema(), cloudtrail_schema());
        assert_eq!(
            copy(&upgraded, "useridentity_arn"),
            vec![Some("arn:aws:iam::1:root".into()), None]
        );
    }

    #[test]
    fn athena_columns_are_all_present() {
        let schema = cloudtrail_schema();
        for col in [
            "eventversion",
            "useridentity",
            "eventtime",
            "eventsource",
            "eventname",
            "awsregion",
            "sourceipaddress",
            "useragent",
            "errorcode",
            "errormessage",
            "requestparameters",
            "responseelements",
            "additionaleventdata",
            "requestid",
            "eventid",
            "resources",
            "eventtype",
            "apiversion",
            "readonly",
            "recipientaccountid",
            "serviceeventdetails",
            "sharedeventid",
            "vpcendpointid",
            "eventcategory",
            "addendum",
            "sessioncredentialfromconsole",
            "edgedevicedetails",
            "tlsdetails",
        ] {
            assert!(schema.field_with_name(col).is_ok(), "missing {col}");
        }
    }
}
