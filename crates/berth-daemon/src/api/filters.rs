//! The `filters` query parameter: `{"key":["v1","v2"]}` or the old `{"key":{"v1":true}}`.

use std::collections::HashMap;

use berth_api::ApiError;
use serde_json::Value;

pub fn parse(raw: Option<&str>) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let mut out = HashMap::new();
    let Some(raw) = raw.filter(|s| !s.is_empty()) else {
        return Ok(out);
    };
    let v: Value =
        serde_json::from_str(raw).map_err(|e| ApiError::invalid(format!("invalid filter: {e}")))?;
    let Value::Object(map) = v else {
        return Err(ApiError::invalid("invalid filter: not an object"));
    };
    for (k, v) in map {
        let vals: Vec<String> = match v {
            Value::Array(a) => a
                .into_iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            Value::Object(o) => o
                .into_iter()
                .filter(|(_, b)| b.as_bool().unwrap_or(false))
                .map(|(k, _)| k)
                .collect(),
            Value::String(s) => vec![s],
            _ => return Err(ApiError::invalid(format!("invalid filter '{k}'"))),
        };
        out.insert(k, vals);
    }
    Ok(out)
}

/// Query booleans as dockerd reads them: `1`, `true`, `True` are true; empty and `0` false.
pub fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|s| !matches!(s.as_str(), "" | "0" | "false" | "False" | "FALSE" | "no"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let f = parse(Some(r#"{"label":["a=b"],"status":{"running":true}}"#)).unwrap();
        assert_eq!(f["label"], ["a=b"]);
        assert_eq!(f["status"], ["running"]);
        assert!(parse(Some("nope")).is_err());
        assert!(truthy(Some(&"1".to_string())) && !truthy(Some(&"0".to_string())));
    }
}
