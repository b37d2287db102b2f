//! A batch of the lake's `cloudtrail` table as the columns of one OCSF
//! class, column to column: a field OCSF keeps as it is (`eventname` to
//! `api.operation`, `eventtimestamp` to `time_dt`) is the same array, and
//! only what the mapping computes (class and activity, the caller's
//! session, `src_endpoint`, `unmapped`, a sign-in's facts) is built row by
//! row. The same mapping as `trailwatch_core::ocsf::from_record`, which the
//! tests hold it to, without decoding a record per row.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, Int64Array, ListArray, MapBuilder,
    MapFieldNames, RecordBatch, StringArray, StringBuilder, StructArray, TimestampMillisecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Fields, TimestampMillisecondType};
use trailwatch_core::event::parse_event_time;
use trailwatch_core::ocsf::{
    Activity, Caller, Class, User, authenticated_user, changed_user, flatten_text, sign_in,
};

use super::event_schema;
use crate::error::LakeError;
use crate::read::cloudtrail_name;

/// The lake batch's columns, looked up once by name; a column an older
/// file lacks is `None` (all null).
struct Lake<'a> {
    rows: usize,
    top: &'a RecordBatch,
}

type Text<'a> = Option<&'a StringArray>;

impl<'a> Lake<'a> {
    fn text(&self, name: &str) -> Text<'a> {
        self.top.column_by_name(name)?.as_string_opt::<i32>()
    }

    fn object(&self, name: &str) -> Option<&'a StructArray> {
        self.top.column_by_name(name)?.as_struct_opt()
    }
}

fn child<'a>(s: Option<&'a StructArray>, name: &str) -> Option<&'a StructArray> {
    s?.column_by_name(name)?.as_struct_opt()
}

fn child_text<'a>(s: Option<&'a StructArray>, name: &str) -> Text<'a> {
    s?.column_by_name(name)?.as_string_opt::<i32>()
}

/// Row `i` of a text column, `None` where null.
fn at<'a>(a: Text<'a>, i: usize) -> Option<&'a str> {
    a.filter(|a| a.is_valid(i)).map(|a| a.value(i))
}

/// A struct whose fields are `children`, null where every child is.
fn object(children: Vec<(&str, ArrayRef)>) -> ArrayRef {
    let rows = children.first().map_or(0, |(_, a)| a.len());
    let valid: Vec<bool> = (0..rows)
        .map(|i| children.iter().any(|(_, a)| a.is_valid(i)))
        .collect();
    build_struct(children, Some(NullBuffer::from(valid)))
}

/// A struct present in every row (OCSF requires it).
fn required(children: Vec<(&str, ArrayRef)>) -> ArrayRef {
    build_struct(children, None)
}

fn build_struct(children: Vec<(&str, ArrayRef)>, nulls: Option<NullBuffer>) -> ArrayRef {
    let fields: Fields = children
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let arrays: Vec<ArrayRef> = children.into_iter().map(|(_, a)| a).collect();
    Arc::new(StructArray::new(fields, arrays, nulls))
}

fn texts<'s>(values: impl Iterator<Item = Option<&'s str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

fn same(a: Text<'_>, rows: usize) -> ArrayRef {
    match a {
        Some(a) => Arc::new(a.clone()),
        None => Arc::new(StringArray::new_null(rows)),
    }
}

fn constant(v: &str, rows: usize) -> ArrayRef {
    texts(std::iter::repeat_n(Some(v), rows))
}

fn ints(values: impl Iterator<Item = i32>) -> ArrayRef {
    Arc::new(values.map(Some).collect::<Int32Array>())
}

fn times(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(values).with_timezone("+00:00"))
}

/// The OCSF columns of lake batch `top`, all of whose rows are of `class`
/// with the activities `activities`.
pub(crate) fn ocsf_batch(
    top: &RecordBatch,
    class: Class,
    activities: &[Activity],
) -> Result<RecordBatch, LakeError> {
    let lake = Lake {
        rows: top.num_rows(),
        top,
    };
    let n = lake.rows;
    let ui = lake.object("useridentity");
    let ctx = child(ui, "sessioncontext");
    let (request, response) = (
        lake.text("requestparameters"),
        lake.text("responseelements"),
    );
    let (errors, additional) = (lake.text("errorcode"), lake.text("additionaleventdata"));
    let ip_text = lake.text("sourceipaddress");
    let is_ip = |i: usize| at(ip_text, i).is_some_and(|s| s.parse::<IpAddr>().is_ok());
    let signs: Vec<_> = (0..n)
        .map(|i| {
            (class == Class::Authentication).then(|| sign_in(at(additional, i), at(response, i)))
        })
        .collect();
    let millis = event_millis(top);
    let (category_uid, category_name) = class.category();
    let mut columns: Vec<ArrayRef> = vec![
        ints(activities.iter().map(|a| i32::from(a.id))),
        texts(activities.iter().map(|a| Some(a.name))),
        actor(&lake, ui, ctx),
        api(&lake, request, response, errors),
        constant(category_name, n),
        ints(std::iter::repeat_n(i32::from(category_uid), n)),
        constant(class.name(), n),
        ints(std::iter::repeat_n(class.uid() as i32, n)),
        cloud(&lake, ui),
    ];
    if class == Class::Authentication {
        let login_to = signs
            .iter()
            .map(|s| s.as_ref().and_then(|s| s.login_to.as_deref()));
        columns.push(object(vec![("svc_name", texts(login_to))]));
    }
    columns.push(object(vec![(
        "user_agent",
        same(lake.text("useragent"), n),
    )]));
    if class == Class::Authentication {
        let mfa: BooleanArray = signs
            .iter()
            .map(|s| s.as_ref().and_then(|s| s.mfa_used))
            .collect();
        columns.push(Arc::new(mfa));
    }
    columns.push(metadata(&lake));
    columns.push(observables(ip_text, &is_ip, child_text(ui, "username"), n));
    if class == Class::ApiActivity {
        columns.push(resources(&lake));
    }
    let failed: Vec<bool> = (0..n)
        .map(|i| at(errors, i).is_some() || signs[i].as_ref().is_some_and(|s| s.failed))
        .collect();
    columns.extend([
        constant("Informational", n),
        ints(std::iter::repeat_n(1, n)),
        src_endpoint(ip_text, &is_ip, lake.text("vpcendpointid"), n),
        texts(
            failed
                .iter()
                .map(|f| Some(if *f { "Failure" } else { "Success" })),
        ),
        ints(failed.iter().map(|f| if *f { 2 } else { 1 })),
        Arc::new(millis.iter().copied().collect::<Int64Array>()),
        times(millis.clone()),
        texts(
            activities
                .iter()
                .map(|a| format!("{}: {}", class.name(), a.name))
                .collect::<Vec<_>>()
                .iter()
                .map(|s| Some(s.as_str())),
        ),
        Arc::new(
            activities
                .iter()
                .map(|a| Some(i64::from(class.uid() * 100 + u32::from(a.id))))
                .collect::<Int64Array>(),
        ),
        unmapped(&lake, ui, ctx, class)?,
    ]);
    if class != Class::ApiActivity {
        columns.push(users(&lake, ui, class, request, response, additional));
    }
    Ok(RecordBatch::try_new(event_schema(class), columns)?)
}

/// `api`: the call (`eventName`, never null: OCSF requires it), its
/// request and response, the service.
fn api(lake: &Lake<'_>, request: Text<'_>, response: Text<'_>, errors: Text<'_>) -> ArrayRef {
    let n = lake.rows;
    let name = lake.text("eventname");
    required(vec![
        (
            "operation",
            texts((0..n).map(|i| Some(at(name, i).unwrap_or("")))),
        ),
        ("request", request_of(request, lake.text("requestid"), n)),
        (
            "response",
            object(vec![
                ("data", same(response, n)),
                ("error", same(errors, n)),
                ("message", same(lake.text("errormessage"), n)),
            ]),
        ),
        (
            "service",
            object(vec![("name", same(lake.text("eventsource"), n))]),
        ),
        ("version", same(lake.text("apiversion"), n)),
    ])
}

/// `cloud`: the account the event belongs to (`recipientAccountId`, else
/// the caller's), AWS, the region.
fn cloud(lake: &Lake<'_>, ui: Option<&StructArray>) -> ArrayRef {
    let n = lake.rows;
    let recipient = lake.text("recipientaccountid");
    let caller_account = child_text(ui, "accountid");
    let accounts = (0..n).map(|i| at(recipient, i).or_else(|| at(caller_account, i)));
    required(vec![
        ("account", object(vec![("uid", texts(accounts))])),
        ("provider", constant("AWS", n)),
        ("region", same(lake.text("awsregion"), n)),
    ])
}

/// `src_endpoint`: `ip` for an address, `domain` for a service name.
fn src_endpoint(ips: Text<'_>, is_ip: &dyn Fn(usize) -> bool, vpc: Text<'_>, n: usize) -> ArrayRef {
    required(vec![
        (
            "domain",
            texts((0..n).map(|i| at(ips, i).filter(|_| !is_ip(i)))),
        ),
        ("ip", texts((0..n).map(|i| at(ips, i).filter(|_| is_ip(i))))),
        ("uid", same(vpc, n)),
    ])
}

/// Each row's event time in epoch milliseconds: the typed
/// `eventtimestamp`, else `eventtime` parsed (a file without the column).
pub(crate) fn event_millis(top: &RecordBatch) -> Vec<Option<i64>> {
    if let Some(ts) = top
        .column_by_name("eventtimestamp")
        .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
    {
        return ts.iter().collect();
    }
    let text = top
        .column_by_name("eventtime")
        .and_then(|c| c.as_string_opt::<i32>());
    (0..top.num_rows())
        .map(|i| {
            at(text, i)
                .and_then(parse_event_time)
                .map(|t| t.timestamp_millis())
        })
        .collect()
}

/// `api.request`: `data` the request's JSON text, `uid` the request id
/// (empty where there is data but no id: OCSF requires a uid).
fn request_of(data: Text<'_>, ids: Text<'_>, n: usize) -> ArrayRef {
    let uid = (0..n).map(|i| match (at(data, i), at(ids, i)) {
        (_, Some(id)) => Some(id),
        (Some(_), None) => Some(""),
        (None, None) => None,
    });
    object(vec![("data", same(data, n)), ("uid", texts(uid))])
}

fn actor(lake: &Lake<'_>, ui: Option<&StructArray>, ctx: Option<&StructArray>) -> ArrayRef {
    let n = lake.rows;
    let attrs = child(ctx, "attributes");
    let created: Vec<Option<i64>> = (0..n)
        .map(|i| {
            at(child_text(attrs, "creationdate"), i)
                .and_then(parse_event_time)
                .map(|t| t.timestamp_millis())
        })
        .collect();
    let mfa_text = child_text(attrs, "mfaauthenticated");
    let mfa: BooleanArray = (0..n)
        .map(|i| match at(mfa_text, i) {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        })
        .collect();
    let provider = child_text(ui, "identityprovider");
    let web = child_text(ctx, "webidfederationdata");
    let idp: Vec<Option<String>> = (0..n)
        .map(|i| {
            at(provider, i).map(str::to_string).or_else(|| {
                let v: serde_json::Value = serde_json::from_str(at(web, i)?).ok()?;
                v.get("federatedProvider")?.as_str().map(str::to_string)
            })
        })
        .collect();
    let (keys, credentials) = (
        child_text(ui, "accesskeyid"),
        child_text(ui, "credentialid"),
    );
    required(vec![
        (
            "idp",
            object(vec![("name", texts(idp.iter().map(|s| s.as_deref())))]),
        ),
        ("invoked_by", same(child_text(ui, "invokedby"), n)),
        (
            "session",
            object(vec![
                ("created_time", Arc::new(Int64Array::from(created.clone()))),
                ("created_time_dt", times(created)),
                ("is_mfa", Arc::new(mfa)),
                (
                    "issuer",
                    same(child_text(child(ctx, "sessionissuer"), "arn"), n),
                ),
            ]),
        ),
        (
            "user",
            object(vec![
                (
                    "account",
                    object(vec![("uid", same(child_text(ui, "accountid"), n))]),
                ),
                (
                    "credential_uid",
                    texts((0..n).map(|i| at(keys, i).or_else(|| at(credentials, i)))),
                ),
                ("name", same(child_text(ui, "username"), n)),
                ("type", same(child_text(ui, "type"), n)),
                ("uid", same(child_text(ui, "arn"), n)),
                ("uid_alt", same(child_text(ui, "principalid"), n)),
            ]),
        ),
    ])
}

fn metadata(lake: &Lake<'_>) -> ArrayRef {
    let n = lake.rows;
    let profile_values = texts((0..n).flat_map(|_| [Some("cloud"), Some("datetime")]));
    let profiles = ListArray::new(
        Arc::new(Field::new("item", DataType::Utf8, true)),
        OffsetBuffer::from_lengths(std::iter::repeat_n(2, n)),
        profile_values,
        None,
    );
    required(vec![
        ("event_code", same(lake.text("eventtype"), n)),
        (
            "product",
            required(vec![
                (
                    "feature",
                    object(vec![("name", same(lake.text("eventcategory"), n))]),
                ),
                ("name", constant("CloudTrail", n)),
                ("vendor_name", constant("AWS", n)),
                ("version", same(lake.text("eventversion"), n)),
            ]),
        ),
        ("profiles", Arc::new(profiles)),
        ("uid", same(lake.text("eventid"), n)),
        ("version", constant(trailwatch_core::ocsf::VERSION, n)),
    ])
}

/// `observables`: the caller's address and user name, where known.
fn observables(
    ips: Text<'_>,
    is_ip: &dyn Fn(usize) -> bool,
    names: Text<'_>,
    n: usize,
) -> ArrayRef {
    let mut items: Vec<(&str, &str, i32, &str)> = Vec::new();
    let mut lengths = Vec::with_capacity(n);
    for i in 0..n {
        let before = items.len();
        if let Some(ip) = at(ips, i).filter(|_| is_ip(i)) {
            items.push(("src_endpoint.ip", "IP Address", 2, ip));
        }
        if let Some(name) = at(names, i) {
            items.push(("actor.user.name", "User Name", 4, name));
        }
        lengths.push(items.len() - before);
    }
    let values = required(vec![
        ("name", texts(items.iter().map(|o| Some(o.0)))),
        ("type", texts(items.iter().map(|o| Some(o.1)))),
        ("type_id", ints(items.iter().map(|o| o.2))),
        ("value", texts(items.iter().map(|o| Some(o.3)))),
    ]);
    let field = Field::new("item", values.data_type().clone(), true);
    let nulls = NullBuffer::from(lengths.iter().map(|l| *l > 0).collect::<Vec<_>>());
    Arc::new(ListArray::new(
        Arc::new(field),
        OffsetBuffer::from_lengths(lengths),
        values,
        Some(nulls),
    ))
}

/// `resources[]`: the lake's `resources` list, each item's ARN as `uid`,
/// its account as `owner.account.uid`, its type as `type`.
fn resources(lake: &Lake<'_>) -> ArrayRef {
    let n = lake.rows;
    let Some(list) = lake
        .top
        .column_by_name("resources")
        .and_then(|c| c.as_list_opt::<i32>())
    else {
        return empty_resources(n);
    };
    let items = list.values().as_struct_opt();
    let len = list.values().len();
    let text = |name: &str| match items.and_then(|s| s.column_by_name(name)) {
        Some(c) => Arc::clone(c),
        None => Arc::new(StringArray::new_null(len)) as ArrayRef,
    };
    let values = build_struct(
        vec![
            (
                "owner",
                object(vec![("account", object(vec![("uid", text("accountid"))]))]),
            ),
            ("type", text("type")),
            ("uid", text("arn")),
        ],
        items.and_then(|s| s.nulls().cloned()),
    );
    // An empty list is no resource at all.
    let valid: Vec<bool> = (0..n)
        .map(|i| list.is_valid(i) && !list.value(i).is_empty())
        .collect();
    Arc::new(ListArray::new(
        Arc::new(Field::new("item", values.data_type().clone(), true)),
        list.offsets().clone(),
        values,
        Some(NullBuffer::from(valid)),
    ))
}

fn empty_resources(n: usize) -> ArrayRef {
    let values = build_struct(
        vec![
            (
                "owner",
                object(vec![(
                    "account",
                    object(vec![("uid", texts(std::iter::empty()))]),
                )]),
            ),
            ("type", texts(std::iter::empty())),
            ("uid", texts(std::iter::empty())),
        ],
        None,
    );
    Arc::new(ListArray::new(
        Arc::new(Field::new("item", values.data_type().clone(), true)),
        OffsetBuffer::from_lengths(std::iter::repeat_n(0, n)),
        values,
        Some(NullBuffer::new_null(n)),
    ))
}

/// `user` of Authentication and Account Change rows.
fn users(
    lake: &Lake<'_>,
    ui: Option<&StructArray>,
    class: Class,
    request: Text<'_>,
    response: Text<'_>,
    additional: Text<'_>,
) -> ArrayRef {
    let (names, arns, ids) = (
        child_text(ui, "username"),
        child_text(ui, "arn"),
        child_text(ui, "principalid"),
    );
    let users: Vec<User> = (0..lake.rows)
        .map(|i| {
            let caller = Caller {
                user_name: at(names, i),
                arn: at(arns, i),
                principal_id: at(ids, i),
            };
            match class {
                Class::Authentication => {
                    authenticated_user(at(request, i), at(additional, i), caller)
                }
                _ => changed_user(at(request, i), at(response, i), caller),
            }
        })
        .collect();
    object(vec![
        ("name", texts(users.iter().map(|u| u.name.as_deref()))),
        ("uid", texts(users.iter().map(|u| u.uid.as_deref()))),
        ("uid_alt", texts(users.iter().map(|u| u.uid_alt.as_deref()))),
    ])
}

/// Where `unmapped` takes its values from: columns copied as text under
/// their CloudTrail names (`plain`, `nested`), and JSON text flattened
/// (`json`).
struct Sources<'a> {
    plain: Vec<(&'static str, Text<'a>)>,
    nested: Vec<(String, Text<'a>)>,
    json: Vec<(&'static str, Text<'a>)>,
}

fn sources<'a>(
    lake: &Lake<'a>,
    ui: Option<&'a StructArray>,
    ctx: Option<&'a StructArray>,
) -> Sources<'a> {
    let plain: Vec<(&'static str, Text<'a>)> = [
        "recipientaccountid",
        "sharedeventid",
        "vpcendpointaccountid",
        "readonly",
        "sessioncredentialfromconsole",
    ]
    .into_iter()
    .map(|c| (cloudtrail_name(c, false), lake.text(c)))
    .collect();
    let issuer = child(ctx, "sessionissuer");
    let mut nested: Vec<(String, Text<'a>)> = Vec::new();
    for c in ["type", "principalid", "accountid", "username"] {
        let key = format!(
            "userIdentity.sessionContext.sessionIssuer.{}",
            cloudtrail_name(c, false)
        );
        nested.push((key, child_text(issuer, c)));
    }
    for c in ["sourceidentity", "ec2roledelivery", "assumedroot"] {
        nested.push((
            format!("userIdentity.sessionContext.{}", cloudtrail_name(c, false)),
            child_text(ctx, c),
        ));
    }
    let on_behalf = child(ui, "onbehalfof");
    for c in ["userid", "identitystorearn"] {
        nested.push((
            format!("userIdentity.onBehalfOf.{}", cloudtrail_name(c, false)),
            child_text(on_behalf, c),
        ));
    }
    for (top, s) in [
        ("tlsDetails", lake.object("tlsdetails")),
        ("addendum", lake.object("addendum")),
    ] {
        if let Some(s) = s {
            for f in s.fields() {
                let key = format!("{top}.{}", cloudtrail_name(f.name(), false));
                nested.push((key, child_text(Some(s), f.name())));
            }
        }
    }
    let json: Vec<(&'static str, Text<'a>)> = vec![
        (
            "userIdentity.sessionContext.webIdFederationData",
            child_text(ctx, "webidfederationdata"),
        ),
        ("userIdentity.inScopeOf", child_text(ui, "inscopeof")),
        ("serviceEventDetails", lake.text("serviceeventdetails")),
        ("edgeDeviceDetails", lake.text("edgedevicedetails")),
        ("insightDetails", lake.text("insightdetails")),
        ("eventContext", lake.text("eventcontext")),
    ];
    Sources {
        plain,
        nested,
        json,
    }
}

/// `unmapped`: each row's fields with no OCSF home, dotted, as text.
fn unmapped(
    lake: &Lake<'_>,
    ui: Option<&StructArray>,
    ctx: Option<&StructArray>,
    class: Class,
) -> Result<ArrayRef, LakeError> {
    let names = MapFieldNames {
        entry: "key_value".into(),
        key: "key".into(),
        value: "value".into(),
    };
    let mut map = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
    let Sources {
        plain,
        nested,
        json,
    } = sources(lake, ui, ctx);
    let additional = lake.text("additionaleventdata");
    let skip: &[&str] = if class == Class::Authentication {
        &["LoginTo", "MFAUsed"]
    } else {
        &[]
    };
    let (keys, credentials) = (
        child_text(ui, "accesskeyid"),
        child_text(ui, "credentialid"),
    );
    let mut row = BTreeMap::new();
    for i in 0..lake.rows {
        row.clear();
        flatten_text(&mut row, "additionalEventData", at(additional, i), skip);
        for (k, a) in &plain {
            if let Some(v) = at(*a, i) {
                row.insert(k.to_string(), v.to_string());
            }
        }
        let ui_valid = ui.is_some_and(|u| u.is_valid(i));
        for (k, a) in &nested {
            if let Some(v) = at(*a, i).filter(|_| ui_valid || !k.starts_with("userIdentity")) {
                row.insert(k.clone(), v.to_string());
            }
        }
        for (k, a) in &json {
            flatten_text(&mut row, k, at(*a, i), &[]);
        }
        if at(keys, i).is_none()
            && let Some(c) = at(credentials, i)
        {
            row.insert("userIdentity.credentialId".into(), c.to_string());
        }
        for (k, v) in &row {
            map.keys().append_value(k);
            map.values().append_value(v);
        }
        map.append(!row.is_empty())?;
    }
    Ok(Arc::new(map.finish()))
}
