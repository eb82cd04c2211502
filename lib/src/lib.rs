//! checkpoint-engine: the logic of bootc-checkpoint.
//!
//! A node reads an update graph, finds its booted release, plans the path through every
//! mandatory checkpoint, and stages each hop pinned by digest while remembering the tag it
//! follows. This crate holds all of it; the `bootc-checkpoint` binary only parses arguments.

pub mod cmd;
pub mod config;
pub mod demo;
pub mod engine;
pub mod fsutil;
pub mod graph;
pub mod host;
pub mod notify;
pub mod plan;
pub mod registry;
pub mod rollout;
pub mod schema;
pub mod sources;
pub mod spec;
pub mod state;
pub mod strategy;
pub mod trust;

// Re-exported so the binary and integration tests use the very same ostree/gio/glib and tokio
// as the engine (a second copy of the glib bindings would not interoperate).
pub use ostree_ext;
pub use tokio;
