//! checkpoint-engine: the logic of bootc-checkpoint.
//!
//! A node reads an update graph, finds its booted release, plans the path through every
//! mandatory checkpoint, and stages each hop pinned by digest while remembering the tag it
//! follows. This crate holds all of it; the `bootc-checkpoint` binary only parses arguments.

pub mod cmd;
pub mod fsutil;
pub mod graph;
pub mod plan;
pub mod rollout;
pub mod spec;
