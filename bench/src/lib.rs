//! spinfer's benchmarks, out of the serving binary: [`http`] (native ONNX Runtime
//! baseline, then a running `spinfer up` end to end), [`portable`] (the Wasm wasi:nn
//! provider against native), and [`provider`], which drives the provider component's
//! wasi:nn exports straight from the host (also the parity test's tool); [`oip`] (the
//! Open Inference Protocol route's per-image cost, part of `http`); [`command`] runs a
//! WASI command on the host's engine (the decoder benchmark's Wasm side).
//!
//! A per-stage benchmark (decode, resize, normalise, infer) belongs here as another
//! module and `spinfer-bench` subcommand.

pub mod command;
pub mod http;
pub mod oip;
pub mod portable;
pub mod provider;
