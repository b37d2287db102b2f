//! Builds Arrow record batches of the `cloudtrail` schema from decoded
//! records: typed fields become columns, free-form objects become their
//! exact JSON text, as in Athena's CloudTrail table.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, ListBuilder, StringBuilder, StructBuilder, TimestampMillisecondBuilder,
};
use arrow::record_batch::RecordBatch;
use arrow_schema::{ArrowError, DataType, Fields, Schema};
use serde::Deserialize;
use serde_json::value::RawValue;
use trailwatch_core::event::{Event, Record};

use crate::schema::cloudtrail_schema;

/// Appends a value to child `i` of a struct builder, which must be text.
fn text(sb: &mut StructBuilder, i: usize, v: Option<&str>) {
    if let Some(b) = sb.field_builder::<StringBuilder>(i) {
        b.append_option(v);
    }
}

/// Appends a null struct: every child gets a null, recursively.
fn null_struct(sb: &mut StructBuilder, fields: &Fields) {
    for (i, f) in fields.iter().enumerate() {
        match f.data_type() {
            DataType::Struct(inner) => {
                if let Some(child) = sb.field_builder::<StructBuilder>(i) {
                    null_struct(child, inner);
                }
            }
            _ => text(sb, i, None),
        }
    }
    sb.append_null();
}

fn struct_fields(schema: &Schema, name: &str) -> Fields {
    match schema.field_with_name(name).map(|f| f.data_type().clone()) {
        Ok(DataType::Struct(f)) => f,
        _ => Fields::empty(),
    }
}

fn child_fields(fields: &Fields, name: &str) -> Fields {
    match fields.find(name).map(|(_, f)| f.data_type().clone()) {
        Some(DataType::Struct(f)) => f,
        _ => Fields::empty(),
    }
}

fn raw(v: Option<&RawValue>) -> Option<&str> {
    v.map(RawValue::get).filter(|s| *s != "null")
}

fn bool_text(v: Option<bool>) -> Option<&'static str> {
    v.map(|b| if b { "true" } else { "false" })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct OnBehalfOf<'a> {
    #[serde(borrow)]
    user_id: Option<&'a str>,
    #[serde(borrow)]
    identity_store_arn: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Addendum<'a> {
    #[serde(borrow)]
    reason: Option<&'a str>,
    #[serde(borrow)]
    updated_fields: Option<&'a str>,
    #[serde(borrow, rename = "originalRequestID")]
    original_request_id: Option<&'a str>,
    #[serde(borrow, rename = "originalEventID")]
    original_event_id: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TlsDetails<'a> {
    #[serde(borrow)]
    tls_version: Option<&'a str>,
    #[serde(borrow)]
    cipher_suite: Option<&'a str>,
    #[serde(borrow)]
    client_provided_host_header: Option<&'a str>,
}

/// Parse a small raw object leniently: anything unexpected gives `None`,
/// and the raw record text (kept elsewhere) still has it.
fn small<'a, T: Deserialize<'a>>(v: Option<&'a RawValue>) -> Option<T> {
    v.and_then(|r| serde_json::from_str(r.get()).ok())
}

/// Column builders for one batch of the `cloudtrail` schema.
pub struct BatchBuilder {
    schema: Arc<Schema>,
    identity_fields: Fields,
    addendum_fields: Fields,
    tls_fields: Fields,
    texts: Vec<StringBuilder>,
    identity: StructBuilder,
    timestamp: TimestampMillisecondBuilder,
    resources: ListBuilder<StructBuilder>,
    addendum: StructBuilder,
    tls: StructBuilder,
    rows: usize,
}

impl std::fmt::Debug for BatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchBuilder")
            .field("rows", &self.rows)
            .finish()
    }
}

/// The top-level text columns, in the order `texts` holds them.
const TEXT_COLUMNS: &[&str] = &[
    "eventversion",
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
    "eventtype",
    "apiversion",
    "readonly",
    "recipientaccountid",
    "serviceeventdetails",
    "sharedeventid",
    "vpcendpointid",
    "vpcendpointaccountid",
    "eventcategory",
    "sessioncredentialfromconsole",
    "edgedevicedetails",
    "insightdetails",
    "eventcontext",
];

impl Default for BatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchBuilder {
    pub fn new() -> BatchBuilder {
        let schema = cloudtrail_schema();
        let identity_fields = struct_fields(&schema, "useridentity");
        let addendum_fields = struct_fields(&schema, "addendum");
        let tls_fields = struct_fields(&schema, "tlsdetails");
        let resource_fields = match schema
            .field_with_name("resources")
            .map(|f| f.data_type().clone())
        {
            Ok(DataType::List(item)) => match item.data_type() {
                DataType::Struct(f) => f.clone(),
                _ => Fields::empty(),
            },
            _ => Fields::empty(),
        };
        let ts_type = schema
            .field_with_name("eventtimestamp")
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Null);
        BatchBuilder {
            texts: TEXT_COLUMNS.iter().map(|_| StringBuilder::new()).collect(),
            identity: StructBuilder::from_fields(identity_fields.clone(), 64),
            timestamp: TimestampMillisecondBuilder::new().with_data_type(ts_type),
            resources: ListBuilder::new(StructBuilder::from_fields(resource_fields, 64)),
            addendum: StructBuilder::from_fields(addendum_fields.clone(), 16),
            tls: StructBuilder::from_fields(tls_fields.clone(), 64),
            identity_fields,
            addendum_fields,
            tls_fields,
            schema,
            rows: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn schema(&self) -> Arc<Schema> {
        Arc::clone(&self.schema)
    }

    /// Append one decoded record.
    pub fn append(&mut self, r: &Record<'_>) {
        let e = &r.event;
        let values: [Option<&str>; 27] = [
            Some(&e.event_version),
            Some(&e.event_time),
            e.event_source.as_deref(),
            e.event_name.as_deref(),
            Some(&e.aws_region),
            e.source_ip_address.as_deref(),
            e.user_agent.as_deref(),
            e.error_code.as_deref(),
            e.error_message.as_deref(),
            raw(e.request_parameters),
            raw(e.response_elements),
            raw(e.additional_event_data),
            e.request_id.as_deref(),
            Some(&e.event_id),
            Some(&e.event_type),
            e.api_version.as_deref(),
            bool_text(e.read_only),
            e.recipient_account_id.as_deref(),
            raw(e.service_event_details),
            e.shared_event_id.as_deref(),
            e.vpc_endpoint_id.as_deref(),
            e.vpc_endpoint_account_id.as_deref(),
            e.event_category.as_deref(),
            bool_text(e.session_credential_from_console),
            raw(e.edge_device_details),
            raw(e.insight_details),
            raw(e.event_context),
        ];
        for (b, v) in self.texts.iter_mut().zip(values) {
            b.append_option(v);
        }
        self.append_identity(e);
        self.timestamp.append_value(r.time.timestamp_millis());
        self.append_resources(e);
        match small::<Addendum<'_>>(e.addendum) {
            Some(a) => {
                text(&mut self.addendum, 0, a.reason);
                text(&mut self.addendum, 1, a.updated_fields);
                text(&mut self.addendum, 2, a.original_request_id);
                text(&mut self.addendum, 3, a.original_event_id);
                self.addendum.append(true);
            }
            None => null_struct(&mut self.addendum, &self.addendum_fields),
        }
        match small::<TlsDetails<'_>>(e.tls_details) {
            Some(t) => {
                text(&mut self.tls, 0, t.tls_version);
                text(&mut self.tls, 1, t.cipher_suite);
                text(&mut self.tls, 2, t.client_provided_host_header);
                self.tls.append(true);
            }
            None => null_struct(&mut self.tls, &self.tls_fields),
        }
        self.rows += 1;
    }

    fn append_identity(&mut self, e: &Event<'_>) {
        let Some(ui) = &e.user_identity else {
            null_struct(&mut self.identity, &self.identity_fields);
            return;
        };
        let sb = &mut self.identity;
        text(sb, 0, ui.kind.as_deref());
        text(sb, 1, ui.principal_id.as_deref());
        text(sb, 2, ui.arn.as_deref());
        text(sb, 3, ui.account_id.as_deref());
        text(sb, 4, ui.invoked_by.as_deref());
        text(sb, 5, ui.access_key_id.as_deref());
        text(sb, 6, ui.user_name.as_deref());
        text(sb, 7, ui.identity_provider.as_deref());
        text(sb, 8, ui.credential_id.as_deref());
        let obo_fields = child_fields(&self.identity_fields, "onbehalfof");
        if let Some(obo) = sb.field_builder::<StructBuilder>(9) {
            match small::<OnBehalfOf<'_>>(ui.on_behalf_of) {
                Some(o) => {
                    text(obo, 0, o.user_id);
                    text(obo, 1, o.identity_store_arn);
                    obo.append(true);
                }
                None => null_struct(obo, &obo_fields),
            }
        }
        text(sb, 10, raw(ui.in_scope_of));
        let sc_fields = child_fields(&self.identity_fields, "sessioncontext");
        if let Some(sc) = sb.field_builder::<StructBuilder>(11) {
            match &ui.session_context {
                None => null_struct(sc, &sc_fields),
                Some(ctx) => {
                    let attr_fields = child_fields(&sc_fields, "attributes");
                    if let Some(attrs) = sc.field_builder::<StructBuilder>(0) {
                        match &ctx.attributes {
                            Some(a) => {
                                text(attrs, 0, bool_text(a.mfa_authenticated));
                                text(attrs, 1, a.creation_date.as_deref());
                                attrs.append(true);
                            }
                            None => null_struct(attrs, &attr_fields),
                        }
                    }
                    let issuer_fields = child_fields(&sc_fields, "sessionissuer");
                    if let Some(iss) = sc.field_builder::<StructBuilder>(1) {
                        match &ctx.session_issuer {
                            Some(i) => {
                                text(iss, 0, i.kind.as_deref());
                                text(iss, 1, i.principal_id.as_deref());
                                text(iss, 2, i.arn.as_deref());
                                text(iss, 3, i.account_id.as_deref());
                                text(iss, 4, i.user_name.as_deref());
                                iss.append(true);
                            }
                            None => null_struct(iss, &issuer_fields),
                        }
                    }
                    text(sc, 2, raw(ctx.web_id_federation_data));
                    text(sc, 3, ctx.source_identity.as_deref());
                    text(sc, 4, ctx.ec2_role_delivery.as_deref());
                    text(sc, 5, ctx.assumed_root.as_deref());
                    sc.append(true);
                }
            }
        }
        sb.append(true);
    }

    fn append_resources(&mut self, e: &Event<'_>) {
        match &e.resources {
            None => self.resources.append_null(),
            Some(list) => {
                let values = self.resources.values();
                for res in list {
                    text(values, 0, res.arn.as_deref());
                    text(values, 1, res.account_id.as_deref());
                    text(values, 2, res.kind.as_deref());
                    values.append(true);
                }
                self.resources.append(true);
            }
        }
    }

    /// The rows appended so far as one batch; the builder is left empty.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut texts = self
            .texts
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for field in self.schema.fields() {
            let col: ArrayRef = match field.name().as_str() {
                "useridentity" => Arc::new(self.identity.finish()),
                "eventtimestamp" => Arc::new(self.timestamp.finish()),
                "resources" => Arc::new(self.resources.finish()),
                "addendum" => Arc::new(self.addendum.finish()),
                "tlsdetails" => Arc::new(self.tls.finish()),
                // Computed from `useridentity` below.
                copy if crate::schema::is_identity_copy(copy) => continue,
                _ => texts
                    .next()
                    .ok_or_else(|| ArrowError::SchemaError("text columns out of step".into()))?,
            };
            columns.push(col);
        }
        self.rows = 0;
        let fields: Vec<_> = self
            .schema
            .fields()
            .iter()
            .filter(|f| !crate::schema::is_identity_copy(f.name()))
            .cloned()
            .collect();
        let records = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        crate::schema::with_identity_copies(&records)
    }

    /// Bytes held by the builders, roughly: used to bound memory.
    pub fn memory_estimate(&self) -> usize {
        self.texts
            .iter()
            .map(|b| b.values_slice().len() + b.len() * 4)
            .sum::<usize>()
            + self.identity.len() * 400
            + self.resources.len() * 200
    }
}

/// The batch of records given as text (one JSON object per line, or a
/// `{"Records":[…]}` file), for tests.
#[cfg(test)]
pub(crate) fn batch_of(records: &str) -> RecordBatch {
    use trailwatch_core::event::{DecodeOptions, Decoder, Step};
    let mut dec = Decoder::from_reader(
        "t",
        std::io::Cursor::new(records.as_bytes().to_vec()),
        DecodeOptions::default(),
    )
    .expect("opens");
    let mut b = BatchBuilder::new();
    while let Some(step) = dec.next_step() {
        if let Step::Record(r) = step {
            b.append(&r);
        }
    }
    b.finish().expect("batch")
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray, StringArray};

    use super::*;

    const REC: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","userName":"r"},"attributes":{"mfaAuthenticated":"false","creationDate":"2024-05-01T00:00:00Z"}}},"eventTime":"2024-05-01T12:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","requestParameters":{"bucketName":"b"},"responseElements":null,"eventID":"e1","readOnly":true,"eventType":"AwsApiCall","resources":[{"ARN":"arn:aws:s3:::b","type":"AWS::S3::Bucket"}],"tlsDetails":{"tlsVersion":"TLSv1.3"}}"#;

    #[test]
    fn record_becomes_a_row_with_structs_lists_and_json_text() {
        let batch = batch_of(&format!("{REC}\n{}", REC.replace("\"e1\"", "\"e2\"")));
        assert_eq!(batch.num_rows(), 2);
        let col = |n: &str| batch.column_by_name(n).expect(n).clone();
        let ids = col("eventid");
        let ids = ids.as_string::<i32>();
        assert_eq!(ids.value(1), "e2");
        let params = col("requestparameters");
        assert_eq!(params.as_string::<i32>().value(0), r#"{"bucketName":"b"}"#);
        assert!(col("responseelements").is_null(0));
        assert_eq!(col("readonly").as_string::<i32>().value(0), "true");
        let ui = col("useridentity");
        let ui = ui.as_struct();
        let sc = ui.column_by_name("sessioncontext").expect("sc").as_struct();
        let issuer = sc
            .column_by_name("sessionissuer")
            .expect("issuer")
            .as_struct();
        let name = issuer.column_by_name("username").expect("username");
        assert_eq!(
            name.as_any()
                .downcast_ref::<StringArray>()
                .expect("text")
                .value(0),
            "r"
        );
        let res = col("resources");
        let res = res.as_list::<i32>();
        assert_eq!(res.value(0).len(), 1);
        assert!(col("addendum").is_null(0));
        let tls = col("tlsdetails");
        assert_eq!(
            tls.as_struct().column(0).as_string::<i32>().value(0),
            "TLSv1.3"
        );
    }
}
