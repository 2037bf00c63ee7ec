//! The `spinfer` host as a library: the binary (`main.rs`) is its command line, and
//! the benchmark and integration tests reuse the same pieces.

pub mod bench;
pub mod bench_portable;
pub mod chaining;
pub mod client;
pub mod config;
pub mod manifest;
pub mod metrics;
pub mod nn;
pub mod outbound;
pub mod portable;
pub mod routes;
pub mod runtime;
pub mod server;
