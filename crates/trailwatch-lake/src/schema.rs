//! The Arrow schema of the `cloudtrail` table, mirroring the Athena
//! CloudTrail table users already query (`cloudtrail-record.md` §7).
//!
//! Every column and struct field name is lower-case: DataFusion lower-cases
//! unquoted identifiers but matches struct fields case-sensitively, so a
//! lower-case schema is what makes `userIdentity.sessionContext.sessionIssuer`
//! and `useridentity.arn` both resolve, as they do in Athena.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};

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
