//! The `spinfer` host as a library; the binary (`main.rs`) is its command line.
//!
//! One job per module (ARCHITECTURE.md has the map and the path of a request):
//! [`manifest`], [`config`] → [`engine`] → [`app`] (components, routes, variables, files)
//! → [`server`] (front door, [`admission`]) → [`instance`] (store, limits, invoke, error
//! answers) → [`outbound`] (policy, chaining back to the server) and [`nn`] (wasi-nn);
//! [`accept`] (the accept loop); [`admin`], [`metrics`] and [`telemetry`] (CPU per
//! request, access log, traces) for operators.

pub mod accept;
pub mod admin;
pub mod admission;
pub mod app;
pub mod bindings;
pub mod compose;
pub mod config;
pub mod connections;
pub mod engine;
pub mod inspect;
pub mod instance;
pub mod locked;
pub mod manifest;
pub mod metrics;
pub mod nn;
pub mod outbound;
pub mod response;
pub mod routes;
pub mod server;
pub mod telemetry;
