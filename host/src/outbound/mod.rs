//! Outbound HTTP from components: which hosts a component may call ([`policy`]) and the
//! per-instance hook that enforces it and chains `*.spin.internal` calls in-process
//! ([`chaining`]).

pub mod chaining;
pub mod policy;

pub use chaining::{Caller, Dispatch, DispatchFuture, Hooks};
pub use policy::{default_port, expand, HostRule};
