//! Update graphs: the native `bootc-checkpoint/v1` document, its validation, and importers for
//! the formats fleets publish today (Fedora CoreOS update metadata, Cincinnati graphs).
//! Everything here is pure: bytes in, graphs or typed errors out.

pub mod cincinnati;
mod document;
mod edges;
mod error;
pub mod fcos;
mod model;
mod validate;

pub use document::Parsed;
pub use edges::edges;
pub use error::{GraphError, Problem};
pub use model::{
    Extra, GraphMetadata, Inherit, Reason, Release, Rollout, UpdateGraph, API_VERSION, KIND,
};
pub use validate::{check_commit, check_digest, validate, Report};
