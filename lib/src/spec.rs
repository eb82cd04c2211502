//! Versioned machine-readable output (`--format json`): every document carries
//! `apiVersion: bootc-checkpoint/v1` and a `kind`, fields are camelCase. Documented in
//! `docs/json-output.md`; fields are only ever added within a version.

use serde::Serialize;

use crate::plan::Plan;

/// The `apiVersion` of every JSON document the tool prints.
pub const API_VERSION: &str = "bootc-checkpoint/v1";

/// A payload wrapped with its `apiVersion` and `kind`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Versioned<T: Serialize> {
    pub api_version: &'static str,
    pub kind: &'static str,
    #[serde(flatten)]
    pub body: T,
}

impl<T: Serialize> Versioned<T> {
    pub fn new(kind: &'static str, body: T) -> Self {
        Self {
            api_version: API_VERSION,
            kind,
            body,
        }
    }

    /// Pretty JSON with a trailing newline.
    /// JSON (pretty) or YAML; the same fields either way.
    pub fn render(&self, format: crate::cmd::Format) -> String {
        match format {
            crate::cmd::Format::Yaml => {
                serde_yaml::to_string(self).expect("output types serialize")
            }
            _ => self.to_json(),
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("output types serialize");
        s.push('\n');
        s
    }
}

/// `kind: Plan`.
pub fn plan_doc(plan: &Plan) -> Versioned<&Plan> {
    Versioned::new("Plan", plan)
}

/// `kind: PlanTable`: one plan per release, oldest first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanTable {
    pub plans: Vec<Plan>,
}

pub fn plan_table_doc(plans: Vec<Plan>) -> Versioned<PlanTable> {
    Versioned::new("PlanTable", PlanTable { plans })
}

/// `kind: ValidationReport`, from `graph validate --format json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationReport {
    pub file: String,
    pub valid: bool,
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

/// One located problem.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub path: String,
    pub message: String,
}

impl From<&crate::graph::Problem> for Finding {
    fn from(p: &crate::graph::Problem) -> Self {
        Self {
            path: p.path.clone(),
            message: p.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Format;

    #[test]
    fn yaml_and_json_carry_the_same_document() {
        let body = Finding {
            path: "$.releases[0]".into(),
            message: "a: \"quoted\"\nsecond line".into(),
        };
        let doc = Versioned::new("Finding", &body);
        let json: serde_json::Value = serde_json::from_str(&doc.render(Format::Json)).unwrap();
        let yaml: serde_json::Value = serde_yaml::from_str(&doc.render(Format::Yaml)).unwrap();
        assert_eq!(json, yaml);
        assert_eq!(json["apiVersion"], "bootc-checkpoint/v1");
        assert_eq!(json["kind"], "Finding");
    }
}
