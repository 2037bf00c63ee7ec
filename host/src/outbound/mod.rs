//! Outbound HTTP from components: which hosts a component may call ([`policy`]), which
//! addresses any outgoing connection may reach ([`address`]; the cluster operator's
//! private allowances: [`allowances`]), the client that connects
//! only to checked addresses ([`connect`]) and the per-instance hook that enforces both
//! and chains `*.spin.internal` calls in-process ([`chaining`]).

pub mod address;
pub mod allowances;
pub mod chaining;
pub mod connect;
pub mod policy;

pub use address::AddressPolicy;
pub use allowances::PrivateAllowances;
pub use chaining::{Caller, Dispatch, DispatchFuture, Hooks};
pub use policy::{default_port, expand, HostRule};
