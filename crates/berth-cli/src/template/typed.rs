//! Typed data for templates: docker's inspect commands run a `--format` template over
//! the Go struct the API answer decodes into, and only when that fails over the raw
//! JSON map. A struct prints as `{v1 v2 ...}` and encodes in field order, a
//! `time.Time` prints as Go's `String()`, a nil map or slice prints as `map[]`/`[]`
//! but encodes as `null`. [`typed`] builds such data from a schema:
//!
//! - an object with `__struct` (`[[go name, json name, omitempty], ...]`, its keys being
//!   the Go names) and `__type` stands for a struct;
//! - an object with `__shown` (its text) and `__json` (its encoding) for a value that
//!   prints otherwise than it encodes;
//! - a map has its element type's zero value under `__zero`, for `index`.

use serde_json::{json, Map, Value};

/// A Go type, as far as templates can tell.
pub enum Ty {
    Str,
    Bool,
    Time,
    Map(&'static Ty),
    Slice(&'static Ty),
    /// Type name (for errors) and fields: Go name, JSON name, `omitempty`, type.
    Struct(&'static str, &'static [Field]),
    /// Kept as the JSON has it.
    Any,
}

pub type Field = (&'static str, &'static str, bool, Ty);

fn shown(text: &str, json: Value) -> Value {
    json!({"__shown": text, "__json": json})
}

/// The value a Go program decoding `v` into `ty` holds, as template data.
pub fn typed(v: Option<&Value>, ty: &Ty) -> Value {
    let v = v.filter(|v| !v.is_null());
    match ty {
        Ty::Str => v.cloned().unwrap_or_else(|| json!("")),
        Ty::Bool => v.cloned().unwrap_or(Value::Bool(false)),
        Ty::Any => v.cloned().unwrap_or(Value::Null),
        Ty::Time => match v.and_then(Value::as_str) {
            Some(s) => shown(&crate::network::go_time_string(s), json!(rfc3339_nano(s))),
            None => shown(
                "0001-01-01 00:00:00 +0000 UTC",
                json!("0001-01-01T00:00:00Z"),
            ),
        },
        Ty::Map(t) => {
            let mut m = match v.and_then(Value::as_object) {
                Some(o) => o
                    .iter()
                    .map(|(k, x)| (k.clone(), typed(Some(x), t)))
                    .collect(),
                None => shown("map[]", Value::Null)
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            };
            // What `index` gives for a missing key.
            m.insert("__zero".into(), typed(None, t));
            Value::Object(m)
        }
        Ty::Slice(t) => match v.and_then(Value::as_array) {
            Some(a) => Value::Array(a.iter().map(|x| typed(Some(x), t)).collect()),
            None => shown("[]", Value::Null),
        },
        Ty::Struct(name, fields) => {
            let o = v.and_then(Value::as_object);
            let mut out = Map::new();
            out.insert("__type".into(), json!(name));
            let order: Vec<Value> = fields
                .iter()
                .map(|(go, js, omit, _)| json!([go, js, omit]))
                .collect();
            out.insert("__struct".into(), Value::Array(order));
            for (go, js, _, t) in fields.iter() {
                out.insert((*go).into(), typed(o.and_then(|o| o.get(*js)), t));
            }
            Value::Object(out)
        }
    }
}

/// A time as Go's time.Time encodes it: RFC 3339 with the fraction's trailing zeros cut
/// and `Z` for a zero offset.
fn rfc3339_nano(s: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) else {
        return s.to_string();
    };
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        out.push('.');
        out.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    if t.offset().local_minus_utc() == 0 {
        out.push('Z');
    } else {
        out.push_str(&t.format("%:z").to_string());
    }
    out
}

/// The fields of a struct value, in order: (Go name, JSON name, omitempty).
pub fn struct_fields(o: &Map<String, Value>) -> Option<Vec<(&str, &str, bool)>> {
    let fields = o.get("__struct")?.as_array()?;
    Some(
        fields
            .iter()
            .filter_map(|f| {
                Some((
                    f.get(0)?.as_str()?,
                    f.get(1)?.as_str()?,
                    f.get(2)?.as_bool()?,
                ))
            })
            .collect(),
    )
}

/// encoding/json's isEmptyValue, for `omitempty`.
fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) if o.contains_key("__shown") => o.get("__json").is_none_or(Value::is_null),
        Value::Object(o) if o.contains_key("__struct") => false,
        Value::Object(o) => !o.keys().any(|k| !k.starts_with("__")),
    }
}

/// Encodes like Go's json.Marshal of the typed value: structs in field order (JSON names,
/// `omitempty` honoured), maps with sorted keys, hidden keys left out.
pub fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) if o.contains_key("__shown") => {
            write_json(o.get("__json").unwrap_or(&Value::Null), out)
        }
        Value::Object(o) => {
            out.push('{');
            let mut first = true;
            let mut member = |key: &str, val: &Value, out: &mut String| {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&serde_json::to_string(key).unwrap_or_default());
                out.push(':');
                write_json(val, out);
            };
            match struct_fields(o) {
                Some(fields) => {
                    for (go, js, omit) in fields {
                        let val = o.get(go).unwrap_or(&Value::Null);
                        if !(omit && empty(val)) {
                            member(js, val, out);
                        }
                    }
                }
                None => {
                    for (k, val) in o.iter().filter(|(k, _)| !k.starts_with("__")) {
                        member(k, val, out);
                    }
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&serde_json::to_string(scalar).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;

    const CFG: Ty = Ty::Struct(
        "network.IPAMConfig",
        &[
            ("Subnet", "Subnet", true, Ty::Str),
            ("IPRange", "IPRange", true, Ty::Str),
            ("Gateway", "Gateway", true, Ty::Str),
            ("AuxAddress", "AuxiliaryAddresses", true, Ty::Map(&Ty::Str)),
        ],
    );
    const IPAM: Ty = Ty::Struct(
        "network.IPAM",
        &[
            ("Driver", "Driver", false, Ty::Str),
            ("Options", "Options", false, Ty::Map(&Ty::Str)),
            ("Config", "Config", false, Ty::Slice(&CFG)),
        ],
    );

    #[test]
    fn structs_print_and_encode_in_field_order() {
        let raw = json!({"Config": [{"Gateway": "10.0.0.1", "Subnet": "10.0.0.0/24"}],
                         "Driver": "default", "Options": null});
        let v = json!({"IPAM": typed(Some(&raw), &IPAM)});
        let r = |t: &str| Template::parse(t).unwrap().render(&v).unwrap();
        assert_eq!(
            r("{{json .IPAM}}"),
            r#"{"Driver":"default","Options":null,"Config":[{"Subnet":"10.0.0.0/24","Gateway":"10.0.0.1"}]}"#
        );
        assert_eq!(
            r("{{.IPAM}}"),
            "{default map[] [{10.0.0.0/24  10.0.0.1 map[]}]}"
        );
        assert_eq!(r("{{if .IPAM.Options}}y{{else}}n{{end}}"), "n");
        assert_eq!(r("[{{index .IPAM.Options \"k\"}}]"), "[]");
        assert_eq!(r("{{range .IPAM.Config}}{{.Subnet}}{{end}}"), "10.0.0.0/24");
        assert!(Template::parse("{{.IPAM.Nope}}")
            .unwrap()
            .render(&v)
            .is_err());
    }

    #[test]
    fn times_encode_as_go_does() {
        assert_eq!(
            rfc3339_nano("2026-12-01T03:24:35.475685720Z"),
            "2026-12-01T03:24:35.47568572Z"
        );
        assert_eq!(
            rfc3339_nano("2026-12-01T03:24:35.000000000+00:00"),
            "2026-12-01T03:24:35Z"
        );
        assert_eq!(
            rfc3339_nano("2026-12-01T03:24:35.5+01:00"),
            "2026-12-01T03:24:35.5+01:00"
        );
    }
}
