//! Property tests of input parsing: arbitrary bytes, arbitrary JSON (with the API's own
//! member names, so that nested structures are reached) and arbitrary query strings, fed to
//! every request body and query type of the route table, never panic and end either in a
//! value (which then goes through its validator) or in a 4xx problem whose errors name a
//! field and a reason.

use std::collections::BTreeSet;

use axum::response::IntoResponse;
use chrono::Utc;
use domain::FieldError;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value};

use super::{parse_json, parse_query};
use crate::api::{
    alerts, audit, customers, devices, edge, events, orders, rfid, scan, stock, transfers, users,
    webhooks,
};
use crate::error::AppError;
use crate::openapi::{self, Body, OPERATIONS};
use crate::page::PageQuery;
use domain::catalog::{LocationInput, ProductInput, ProductPatchInput};
use domain::customer::{CustomerInput, CustomerPatch};
use domain::order::{OrderInput, OrderPatchInput, ReturnInput, ShipInput};
use domain::pricing::PriceListInput;

/// Parses (and validates) one input: `true` when it parsed into a value.
type Check = fn(&[u8]) -> Result<bool, TestCaseError>;

/// Field errors must each name a reason, and a field unless the whole input has the wrong
/// shape (a body that is a number instead of an object, say).
fn named(errors: &[FieldError]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty());
    for e in errors {
        prop_assert!(!e.code.is_empty() && !e.message.is_empty(), "{e:?}");
        prop_assert!(
            !e.field.is_empty() || matches!(e.code, "wrong_type" | "invalid"),
            "no field: {e:?}"
        );
    }
    Ok(())
}

/// A refusal must be a 4xx problem: malformed JSON, or field errors.
fn refused(error: AppError) -> Result<(), TestCaseError> {
    let status = match &error {
        AppError::Malformed { .. } | AppError::Validation(_) => {
            if let AppError::Validation(errors) = &error {
                named(errors)?;
            }
            error.into_response().status()
        }
        other => return Err(TestCaseError::fail(format!("unexpected refusal {other:?}"))),
    };
    prop_assert!(status.is_client_error(), "{status}");
    Ok(())
}

fn validated(result: Result<(), Vec<FieldError>>) -> Result<(), TestCaseError> {
    match result {
        Ok(()) => Ok(()),
        Err(errors) => named(&errors),
    }
}

/// One body check per type: parse, then validate what parsed.
macro_rules! bodies {
    ($($ty:ty => $validate:expr),* $(,)?) => {
        fn body_checks() -> Vec<(&'static str, Check)> {
            vec![$((std::any::type_name::<$ty>(), |bytes: &[u8]| {
                match parse_json::<$ty>(bytes) {
                    Ok(value) => {
                        let validate: fn(&$ty) -> Result<(), Vec<FieldError>> = $validate;
                        validated(validate(&value)).map(|()| true)
                    }
                    Err(e) => refused(e).map(|()| false),
                }
            })),*]
        }
    };
}

bodies! {
    LocationInput => |v| v.validate().map(drop),
    ProductInput => |v| v.validate().map(drop),
    ProductPatchInput => |v| v.validate().map(drop),
    stock::Batch => |b| domain::stock::validate_batch(&b.movements, Utc::now()).map(drop),
    CustomerInput => |v| v.validate(Utc::now()).map(drop),
    CustomerPatch => |_| Ok(()),
    customers::Rules => |r| domain::pricing::validate_entries(&r.entries).map(drop),
    PriceListInput => |v| v.validate("L1").map(drop),
    OrderInput => |v| v.validate(None).map(drop),
    OrderPatchInput => |v| v.validate().map(drop),
    orders::Reason => |_| Ok(()),
    ShipInput => |v| v.validate().map(drop),
    ReturnInput => |v| v.validate().map(drop),
    users::NewUserInput => |_| Ok(()),
    users::LoginInput => |_| Ok(()),
    users::NewTokenInput => |_| Ok(()),
    domain::alert::ThresholdInput => |v| v.validate().map(drop).map_err(|e| vec![e]),
    domain::webhook::WebhookInput => |v| v.validate().map(drop),
    domain::webhook::WebhookPatchInput => |v| v.validate().map(drop),
    domain::device::DeviceInput => |v| v.validate().map(drop),
    domain::pos::SaleInput => |v| v.validate(store_code(), Utc::now(), &layouts()).map(drop),
    domain::pos::ReturnInput => |v| v.validate(store_code(), Utc::now(), &layouts()).map(drop),
    domain::rfid::ReadsInput => |v| v.validate(Utc::now()).map(drop),
    domain::count::CountInput => |v| v.validate("CC-1").map(drop),
    domain::count::ScansInput => |v| v.validate(&layouts()).map(drop),
    domain::transfer::TransferInput => |v| v.validate("TR-1").map(drop),
    domain::transfer::ReceiveInput => |v| v.validate().map(drop),
}

fn store_code() -> domain::ids::LocationCode {
    domain::ids::LocationCode::from_trusted("ST-1".to_owned())
}

fn layouts() -> Vec<gs1::VariableMeasureLayout> {
    vec![gs1::VariableMeasureLayout::default()]
}

/// One query check per type: parse the query string (and, for paging, read its limit and
/// cursor as the handlers do).
macro_rules! queries {
    ($($ty:ty => $use:expr),* $(,)?) => {
        fn query_checks() -> Vec<(&'static str, Check)> {
            vec![$((std::any::type_name::<$ty>(), |bytes: &[u8]| {
                let text = String::from_utf8_lossy(bytes);
                match parse_query::<$ty>(&text) {
                    Ok(value) => {
                        let use_it: fn(&$ty) -> Result<(), AppError> = $use;
                        use_it(&value).or_else(refused).map(|()| true)
                    }
                    Err(e) => refused(e).map(|()| false),
                }
            })),*]
        }
    };
}

queries! {
    PageQuery => |q| {
        q.limit()?;
        q.cursor(1)?;
        q.cursor(2).map(drop)
    },
    stock::LevelQuery => |_| Ok(()),
    customers::PriceQuery => |_| Ok(()),
    orders::ListQuery => |_| Ok(()),
    events::EventQuery => |_| Ok(()),
    scan::ScanQuery => |_| Ok(()),
    audit::AuditQuery => |_| Ok(()),
    alerts::AlertQuery => |_| Ok(()),
    alerts::ThresholdQuery => |_| Ok(()),
    webhooks::ReplayQuery => |_| Ok(()),
    devices::ListQuery => |_| Ok(()),
    rfid::TagQuery => |_| Ok(()),
    transfers::ListQuery => |_| Ok(()),
    edge::SnapshotQuery => |_| Ok(()),
}

/// Every member name of every schema in the document, so generated objects hit real fields.
fn member_names() -> Vec<String> {
    fn walk(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(properties)) = map.get("properties") {
                    out.extend(properties.keys().cloned());
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut names = BTreeSet::new();
    walk(&openapi::document()["components"], &mut names);
    names.into_iter().collect()
}

/// Every query parameter name in the document.
fn parameter_names() -> Vec<String> {
    let mut names = BTreeSet::new();
    for item in openapi::document()["paths"]
        .as_object()
        .into_iter()
        .flatten()
    {
        for op in item.1.as_object().into_iter().flatten() {
            for p in op.1["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "query" {
                    names.insert(p["name"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
    }
    names.into_iter().collect()
}

fn json() -> impl Strategy<Value = Value> {
    let names = member_names();
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        prop::sample::select(vec![
            "A",
            "WH",
            "C1",
            "receipt",
            "adjustment",
            "store",
            "CNY",
            "2026-11-22",
            "2026-11-22T08:00:00Z",
            "06901234567892",
            "",
            " ",
            "\u{0}",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        let key = prop_oneof![
            4 => prop::sample::select(names.clone()),
            1 => "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Bodies: arbitrary bytes, JSON objects with the API's member names, and such JSON cut
/// short or with a byte changed.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let object = json().prop_map(|v| match v {
        Value::Object(_) => v,
        other => Value::Object(Map::from_iter([("movements".to_owned(), other)])),
    });
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..200),
        4 => object.prop_map(|v| v.to_string().into_bytes()),
        1 => (json(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, byte)| {
            let mut bytes = v.to_string().into_bytes();
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                if byte % 2 == 0 {
                    bytes.truncate(i);
                } else {
                    bytes[i] = byte;
                }
            }
            bytes
        }),
    ]
}

/// Query strings: arbitrary text, and `name=value` pairs with the API's parameter names,
/// encoded or raw.
fn query() -> impl Strategy<Value = Vec<u8>> {
    let names = parameter_names();
    let pair = (
        prop_oneof![4 => prop::sample::select(names), 1 => "[a-z_%]{0,6}"],
        prop_oneof![
            any::<String>(),
            "[0-9-]{0,20}",
            Just("2026-11-22".to_owned()),
            Just("pending_review".to_owned()),
        ],
    );
    prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        (prop::collection::vec(pair, 0..6), any::<bool>()).prop_map(|(pairs, encode)| {
            if encode {
                let mut out = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &pairs {
                    out.append_pair(k, v);
                }
                out.finish().into_bytes()
            } else {
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&")
                    .into_bytes()
            }
        }),
    ]
}

/// Values drawn from a JSON Schema (inlined, no `$ref`): mostly valid ones, so that the
/// validators behind the parser are reached, with a share of wrong values mixed in.
fn from_schema(schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    let wrong = json().boxed();
    if depth > 5 {
        return wrong;
    }
    let valid = valid_for(schema, depth);
    prop_oneof![49 => valid, 1 => wrong].boxed()
}

fn valid_for(schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    if let Some(value) = schema.get("const") {
        return Just(value.clone()).boxed();
    }
    if let Some(Value::Array(values)) = schema.get("enum") {
        return prop::sample::select(values.clone()).boxed();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = schema.get(key) {
            let options: Vec<_> = options.iter().map(|o| from_schema(o, depth + 1)).collect();
            return prop::strategy::Union::new(options).boxed();
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec!["object"],
    };
    let one = |t: &str| -> BoxedStrategy<Value> {
        match t {
            "null" => Just(Value::Null).boxed(),
            "boolean" => any::<bool>().prop_map(Value::from).boxed(),
            "integer" => {
                let min = schema["minimum"].as_i64().unwrap_or(i64::MIN);
                let max = schema["maximum"].as_i64().unwrap_or(i64::MAX);
                prop_oneof![
                    (min..=max).prop_map(Value::from),
                    prop::sample::select(vec![min, max, min.saturating_add(1), 1, 0])
                        .prop_map(Value::from),
                ]
                .boxed()
            }
            "number" => any::<f64>().prop_map(Value::from).boxed(),
            "array" => {
                let items = from_schema(&schema["items"], depth + 1);
                let min = schema["minItems"].as_u64().unwrap_or(0) as usize;
                prop::collection::vec(items, min..min + 4)
                    .prop_map(Value::Array)
                    .boxed()
            }
            "object" => object_for(schema, depth),
            _ => string_for(schema),
        }
    };
    prop::strategy::Union::new(types.into_iter().map(one)).boxed()
}

fn object_for(schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let members: Vec<BoxedStrategy<Option<(String, Value)>>> = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, member)| {
            let (name, value) = (name.clone(), from_schema(member, depth + 1));
            if required.contains(name.as_str()) {
                // Now and then a required member is left out.
                prop_oneof![49 => value.prop_map(move |v| Some((name.clone(), v))), 1 => Just(None)]
                    .boxed()
            } else {
                prop::option::of(value.prop_map(move |v| (name.clone(), v))).boxed()
            }
        })
        .collect();
    members
        .prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect()))
        .boxed()
}

fn string_for(schema: &Value) -> BoxedStrategy<Value> {
    let sample = match schema["format"].as_str() {
        Some("date") => Some("2026-11-22"),
        Some("date-time") => Some("2026-11-22T08:00:00Z"),
        _ => None,
    };
    if let Some(sample) = sample {
        return prop_oneof![
            Just(Value::from(sample)),
            any::<String>().prop_map(Value::from)
        ]
        .boxed();
    }
    let pattern = schema["pattern"]
        .as_str()
        .map(|p| p.trim_start_matches('^').trim_end_matches('$'));
    match pattern.map(proptest::string::string_regex) {
        Some(Ok(strings)) => strings.prop_map(Value::from).boxed(),
        _ => any::<String>().prop_map(Value::from).boxed(),
    }
}

/// The inlined request-body schema of a type of the route table.
fn body_schema(name: &str) -> Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    OPERATIONS
        .iter()
        .find_map(|op| match op.body {
            Body::Json(t) | Body::OptionalJson(t) if (t.name)() == name => {
                Some((t.schema)(&mut generator).to_value())
            }
            _ => None,
        })
        .unwrap_or(Value::Null)
}

#[test]
fn bodies_drawn_from_each_schema_are_parsed_and_validated_or_refused_with_a_named_field() {
    for (name, check) in body_checks() {
        let schema = body_schema(name);
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let bodies = from_schema(&schema, 0).prop_map(|v| v.to_string().into_bytes());
        let parsed = std::cell::Cell::new(0);
        runner
            .run(&bodies, |bytes| {
                if check(&bytes)? {
                    parsed.set(parsed.get() + 1);
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Most drawn bodies parse, so the validators behind the parser are exercised too.
        assert!(
            parsed.get() > 64,
            "{name}: only {} of 256 parsed",
            parsed.get()
        );
    }
}

#[test]
fn every_body_and_query_type_of_the_route_table_is_fuzzed() {
    let mut bodies = BTreeSet::new();
    let mut queries = BTreeSet::new();
    for op in OPERATIONS {
        if let Body::Json(t) | Body::OptionalJson(t) = op.body {
            bodies.insert((t.name)());
        }
        if let Some(t) = op.query {
            queries.insert((t.name)());
        }
    }
    let checked = |checks: Vec<(&'static str, Check)>| -> BTreeSet<&str> {
        checks.into_iter().map(|(name, _)| name).collect()
    };
    assert_eq!(checked(body_checks()), bodies);
    assert_eq!(checked(query_checks()), queries);
}

proptest! {
    #[test]
    fn any_body_is_parsed_or_refused_with_a_named_field(bytes in body()) {
        for (_, check) in body_checks() {
            check(&bytes)?;
        }
    }

    #[test]
    fn any_query_string_is_parsed_or_refused_with_a_named_field(bytes in query()) {
        for (_, check) in query_checks() {
            check(&bytes)?;
        }
    }
}
