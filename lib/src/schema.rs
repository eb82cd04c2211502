//! The JSON Schema of `status --format json` (kind `Status`), generated from the very types the
//! command serializes. `docs/status.schema.json` is this output, checked in; a test fails when
//! the two differ, so the documented schema cannot drift from the code.

use schemars::JsonSchema;

/// The document `status --format json` prints: the versioned envelope around [`Status`].
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // Only its schema is used.
struct StatusDocument {
    /// Always `bootc-checkpoint/v1`.
    api_version: ApiVersion,
    /// Always `Status`.
    kind: StatusKind,
    #[serde(flatten)]
    status: crate::engine::Status,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
enum ApiVersion {
    #[serde(rename = "bootc-checkpoint/v1")]
    V1,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
enum StatusKind {
    Status,
}

/// The schema, pretty-printed with a trailing newline.
pub fn status_schema() -> String {
    let schema = schemars::schema_for!(StatusDocument);
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_schema_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/status.schema.json");
        let documented = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            documented == super::status_schema(),
            "docs/status.schema.json is out of date; regenerate it with \
             `cargo run -p bootc-checkpoint -- internals schema > docs/status.schema.json`"
        );
    }
}
