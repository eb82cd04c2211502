//! Reading and writing native graph documents (JSON or YAML in, pretty JSON out).

use super::error::{deserialize, GraphError};
use super::model::UpdateGraph;
use super::validate::{validate, Report};

/// A graph that passed validation, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub graph: UpdateGraph,
    pub warnings: Vec<super::Problem>,
}

impl UpdateGraph {
    /// Parse and validate a document. `file` names it in errors (a path or a source URI).
    pub fn parse(bytes: &[u8], file: &str) -> Result<Parsed, GraphError> {
        let mut graph: UpdateGraph = deserialize(bytes, file)?;
        let Report { errors, warnings } = validate(&mut graph);
        if !errors.is_empty() {
            return Err(GraphError::Invalid {
                file: file.to_string(),
                problems: errors,
            });
        }
        Ok(Parsed { graph, warnings })
    }

    /// Serialize as pretty JSON with a trailing newline: the canonical form tools write.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .expect("graph serialization is infallible: string keys, finite numbers");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn problems(doc: &str) -> Vec<String> {
        match UpdateGraph::parse(doc.as_bytes(), "g.json") {
            Ok(_) => vec![],
            // Every line of the error names the file, the JSON path and the problem.
            Err(e) => e
                .to_string()
                .lines()
                .map(|l| l.trim().to_string())
                .collect(),
        }
    }

    #[test]
    fn unknown_fields_round_trip() {
        let doc = format!(
            r#"{{"apiVersion":"bootc-checkpoint/v1","kind":"UpdateGraph","x-top":{{"a":[1,2]}},
            "metadata":{{"stream":"s","serial":3,"x-meta":true}},
            "releases":[{{"version":"1","digest":"{SHA_A}","x-rel":"keep",
              "rollout":{{"start":"2025-01-06T00:00:00Z","startPercentage":0.25,"x-ro":1}},
              "checkpoint":{{"reason":"r","x-cp":null}}}}]}}"#
        );
        let g = UpdateGraph::parse(doc.as_bytes(), "g.json").unwrap().graph;
        let out = g.to_json();
        for key in ["x-top", "x-meta", "x-rel", "x-ro", "x-cp"] {
            assert!(out.contains(key), "{key} lost in {out}");
        }
        let again = UpdateGraph::parse(out.as_bytes(), "out.json")
            .unwrap()
            .graph;
        assert_eq!(g, again);
        assert_eq!(out, again.to_json());
    }

    #[test]
    fn yaml_input() {
        let doc = format!(
            "apiVersion: bootc-checkpoint/v1\nkind: UpdateGraph\nreleases:\n  - version: '1'\n    digest: {SHA_A}\n    deadend: {{reason: gone}}\n"
        );
        let g = UpdateGraph::parse(doc.as_bytes(), "g.yaml").unwrap().graph;
        assert_eq!(g.releases[0].deadend.as_ref().unwrap().reason, "gone");
    }

    #[test]
    fn errors_name_file_path_and_problem() {
        let head = r#"{"apiVersion":"bootc-checkpoint/v1","kind":"UpdateGraph","releases":"#;
        let table: &[(&str, &str)] = &[
            ("[]", "g.json: $.releases: the stream is empty"),
            (r#"[{"version":1}]"#, "$.releases[0].version: invalid type: integer `1`"),
            (
                r#"[{"version":"1","digest":"md5:00"}]"#,
                "$.releases[0].digest: unknown digest algorithm \"md5\"",
            ),
            (
                r#"[{"version":"1","digest":"sha256:xyz"}]"#,
                "$.releases[0].digest: malformed digest",
            ),
            (
                r#"[{"version":"1","rollout":{"startPercentage":1.5}}]"#,
                "$.releases[0].rollout.startPercentage: 1.5 is out of range",
            ),
            (
                r#"[{"version":"1","rollout":{"start":"yesterday"}}]"#,
                "$.releases[0].rollout.start: input contains invalid characters",
            ),
            (
                r#"[{"version":"1","commit":"aa"},{"version":"1","commit":"bb"}]"#,
                "$.releases[1].version: duplicate version \"1\" with conflicting data (first at $.releases[0]: commit)",
            ),
            (
                r#"[{"version":"1","checkpoint":{"reason":"x"},"offered":false}]"#,
                "$.releases[0].offered: a checkpoint is always an update target",
            ),
        ];
        for (releases, want) in table {
            let got = problems(&format!("{head}{releases}}}"));
            assert!(
                got.iter().any(|p| p.contains(want)),
                "{releases}: want {want:?} in {got:#?}"
            );
        }
        let wrong_version = problems(
            r#"{"apiVersion":"bootc-checkpoint/v2","kind":"UpdateGraph","releases":[{"version":"1"}]}"#,
        );
        assert!(wrong_version
            .iter()
            .any(|l| l.starts_with("g.json: $.apiVersion: unsupported apiVersion")));
    }

    #[test]
    fn identical_duplicates_collapse_with_warning() {
        let doc = format!(
            r#"{{"apiVersion":"bootc-checkpoint/v1","kind":"UpdateGraph","releases":[
            {{"version":"1","digest":"{SHA_A}"}},{{"version":"2"}},{{"version":"1","digest":"{SHA_A}"}}]}}"#
        );
        let p = UpdateGraph::parse(doc.as_bytes(), "g.json").unwrap();
        let versions: Vec<_> = p
            .graph
            .releases
            .iter()
            .map(|r| r.version.as_str())
            .collect();
        assert_eq!(versions, ["1", "2"]);
        assert!(p
            .warnings
            .iter()
            .any(|w| w.message.contains("duplicate of $.releases[0]")));
    }
}
