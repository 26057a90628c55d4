//! The registry's error bodies: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}`,
//! in docker's words (`manifest unknown: manifest unknown`).

use serde::Deserialize;

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    errors: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The first error's code, if the body is a registry error body.
pub fn code(body: &[u8]) -> Option<String> {
    let b: Body = serde_json::from_slice(body).ok()?;
    b.errors.first().map(|e| e.code.clone())
}

/// `code (lower case, spaces): message` of every error, joined as docker joins them.
pub fn message(body: &[u8]) -> Option<String> {
    let b: Body = serde_json::from_slice(body).ok()?;
    if b.errors.is_empty() {
        return None;
    }
    Some(
        b.errors
            .iter()
            .map(|e| {
                let code = e.code.to_lowercase().replace('_', " ");
                if e.message.is_empty() {
                    code
                } else {
                    format!("{code}: {}", e.message)
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn docker_wording() {
        let b = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(
            super::message(b).unwrap(),
            "manifest unknown: manifest unknown"
        );
        assert_eq!(super::code(b).unwrap(), "MANIFEST_UNKNOWN");
        assert_eq!(super::message(b"not json"), None);
    }
}
