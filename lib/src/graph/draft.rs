//! Graph files as publishers keep them: JSON or YAML, possibly still without releases (right
//! after `graph new`), written back in the syntax they were read in. Rendering is canonical —
//! the same graph always gives the same bytes — so CI can commit, diff and sign the output.

use super::document::Parsed;
use super::error::{deserialize, looks_like_json, GraphError};
use super::model::UpdateGraph;

/// The syntax of a graph file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Yaml,
}

impl Syntax {
    /// By the file name's extension (`.json`; `.yaml`, `.yml`), else by the content (JSON
    /// starts with `{`), else JSON, the format tools write by default.
    pub fn detect(file_name: &str, content: Option<&[u8]>) -> Syntax {
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Syntax::Json
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Syntax::Yaml
        } else {
            match content {
                Some(bytes) if !looks_like_json(bytes) => Syntax::Yaml,
                _ => Syntax::Json,
            }
        }
    }
}

/// Parse a graph for editing: like [`UpdateGraph::parse`], but a graph with no releases yet is
/// accepted (nodes still refuse it: `graph validate` reports it).
pub fn parse_draft(bytes: &[u8], file: &str) -> Result<Parsed, GraphError> {
    let mut graph: UpdateGraph = deserialize(bytes, file)?;
    let report = super::edit::check_draft(&mut graph);
    if !report.errors.is_empty() {
        return Err(GraphError::Invalid {
            file: file.to_string(),
            problems: report.errors,
        });
    }
    Ok(Parsed {
        graph,
        warnings: report.warnings,
    })
}

/// The canonical text of a graph in `syntax`. Comments and formatting of a hand-written file
/// are not kept; every field, known or not, is.
pub fn render(graph: &UpdateGraph, syntax: Syntax) -> String {
    match syntax {
        Syntax::Json => graph.to_json(),
        Syntax::Yaml => serde_yaml::to_string(graph)
            .expect("graph serialization is infallible: string keys, finite numbers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::edit::new_graph;
    use crate::graph::{Reason, Release, Rollout};

    fn sample() -> UpdateGraph {
        let mut g = new_graph("stable", Some("quay.io/example/os"), 7);
        let mut a = Release::new("1");
        a.digest = Some(format!("sha256:{}", "a".repeat(64)));
        a.extra
            .insert("x-note".into(), serde_json::json!({"k": [1, 2]}));
        let mut b = Release::new("2.0");
        b.commit = Some("b".repeat(64));
        b.checkpoint = Some(Reason::new("https://example.com/b"));
        b.rollout = Some(Rollout {
            start: Some("2025-01-06T00:00:00Z".parse().unwrap()),
            start_percentage: Some(0.25),
            duration_minutes: Some(2880),
            ..Rollout::default()
        });
        g.releases = vec![a, b];
        g.extra.insert("x-top".into(), serde_json::json!(true));
        g
    }

    #[test]
    fn detect_by_extension_then_content() {
        let table: &[(&str, Option<&[u8]>, Syntax)] = &[
            ("g.json", Some(b"a: 1"), Syntax::Json),
            ("g.yaml", Some(b"{}"), Syntax::Yaml),
            ("G.YML", None, Syntax::Yaml),
            ("graph", Some(b"  {\"a\":1}"), Syntax::Json),
            ("graph", Some(b"apiVersion: x"), Syntax::Yaml),
            ("graph", None, Syntax::Json),
        ];
        for (name, content, want) in table {
            assert_eq!(Syntax::detect(name, *content), *want, "{name}");
        }
    }

    #[test]
    fn both_syntaxes_round_trip_byte_stable() {
        let g = sample();
        for syntax in [Syntax::Json, Syntax::Yaml] {
            let text = render(&g, syntax);
            let again = parse_draft(text.as_bytes(), "g").unwrap().graph;
            assert_eq!(again, g, "{syntax:?}:\n{text}");
            assert_eq!(render(&again, syntax), text, "{syntax:?}");
        }
    }

    #[test]
    fn empty_draft_is_accepted_for_editing_only() {
        let text = render(&new_graph("s", None, 1), Syntax::Json);
        assert!(parse_draft(text.as_bytes(), "g.json").is_ok());
        let err = UpdateGraph::parse(text.as_bytes(), "g.json").unwrap_err();
        assert!(err.to_string().contains("$.releases: the stream is empty"));
    }
}
