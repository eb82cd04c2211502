//! Shared fixtures of the library's integration tests.
#![allow(dead_code)]

pub mod server;
