//! Update graphs: the native `bootc-checkpoint/v1` document, its validation, publishing edits
//! and diffs, and importers for the formats fleets publish today (Fedora CoreOS update
//! metadata, Cincinnati graphs).
//! Everything here is pure: bytes in, graphs or typed errors out.

pub mod cincinnati;
mod diff;
mod document;
mod draft;
mod edges;
mod edit;
mod error;
pub mod fcos;
mod model;
mod validate;

pub use diff::{diff, Aged, Changed, FieldsChanged, GraphDiff, Marked, SerialChange};
pub use document::Parsed;
pub use draft::{parse_draft, render, Syntax};
pub use edges::edges;
pub use edit::{edit, new_graph, next_serial, Edit, Edited, Marker};
pub use error::{GraphError, Problem};
pub use model::{
    Extra, GraphMetadata, Inherit, Reason, Release, Rollout, UpdateGraph, API_VERSION, KIND,
};
pub use validate::{check_commit, check_digest, validate, Report};
