//! Typed errors for graph documents and importers: each names the file, the JSON path and the
//! problem, so a publisher can fix the exact field.

use std::fmt;

/// One problem found in a document, located by a JSON path such as `$.releases[3].digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A document that could not be read as an update graph (or importer input).
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Not JSON/YAML, or a field has the wrong type.
    #[error("{file}: {problem}")]
    Syntax { file: String, problem: Problem },
    /// Well-formed, but breaks the format's rules; every problem found is listed.
    #[error("{file}: invalid update graph ({} problem{}):\n{}", problems.len(),
        if problems.len() == 1 { "" } else { "s" }, list(file, problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

fn list(file: &str, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {file}: {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl GraphError {
    /// Every problem, for tools that print or count them.
    pub fn problems(&self) -> Vec<&Problem> {
        match self {
            GraphError::Syntax { problem, .. } => vec![problem],
            GraphError::Invalid { problems, .. } => problems.iter().collect(),
        }
    }

    /// The file (or origin label) the error is about.
    pub fn file(&self) -> &str {
        match self {
            GraphError::Syntax { file, .. } | GraphError::Invalid { file, .. } => file,
        }
    }
}

/// Render a `serde_path_to_error` path as a JSON path rooted at `$`.
pub(crate) fn json_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::from("$");
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                out.push('.');
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                out.push('.');
                out.push_str(variant);
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// The largest graph document read (Fedora CoreOS's whole history is under 1 MiB): bigger
/// ones are refused before parsing, so hostile input cannot make parsing slow or huge.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// Deserialize JSON or YAML bytes into `T`, reporting failures with a JSON path.
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    file: &str,
) -> Result<T, GraphError> {
    let syntax = |path: String, message: String| GraphError::Syntax {
        file: file.to_string(),
        problem: Problem::new(path, message),
    };
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(syntax(
            "$".into(),
            format!(
                "the document is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES}",
                bytes.len()
            ),
        ));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(syntax("$".into(), "the document is not UTF-8".into()));
    }
    if looks_like_json(bytes) {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let value: T = serde_path_to_error::deserialize(de)
            .map_err(|e| syntax(json_path(e.path()), e.inner().to_string()))?;
        Ok(value)
    } else {
        let de = serde_yaml::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(de)
            .map_err(|e| syntax(json_path(e.path()), e.inner().to_string()))
    }
}

/// JSON documents start with `{` or `[` after optional whitespace (and BOM); anything else is
/// read as YAML, which is a superset for our purposes.
pub(crate) fn looks_like_json(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{') | Some(b'[') | None
    )
}

/// Deserialize an already-parsed JSON value into `T`, reporting failures with a JSON path.
pub(crate) fn from_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    file: &str,
) -> Result<T, GraphError> {
    serde_path_to_error::deserialize(value).map_err(|e| GraphError::Syntax {
        file: file.to_string(),
        problem: Problem::new(json_path(e.path()), e.inner().to_string()),
    })
}

/// A number that older documents wrote as a string (FCOS 2019 legacy schema).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum Lenient<T> {
    Native(T),
    Text(String),
}

impl<T: std::str::FromStr> Lenient<T> {
    /// The value, parsing text; `path` locates it for the error.
    pub(crate) fn get(self, path: &str) -> Result<T, Problem> {
        match self {
            Lenient::Native(v) => Ok(v),
            Lenient::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| Problem::new(path, format!("{s:?} is not a valid number here"))),
        }
    }
}
