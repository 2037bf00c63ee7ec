//! Dev-only helpers shared by spinfer's tests and benchmarks (never in the serving
//! binary): a small blocking HTTP/1.1 client ([`client`]), `spinfer up` started on a
//! free loopback port and awaited ([`process`]), the real Spin CLI the same way ([`spin`]), and hostile inputs ([`images`]).

pub mod client;
pub mod images;
pub mod process;
pub mod spin;

pub use client::{request, try_request, Response};
pub use process::{free_port, spinfer_bin, KillOnDrop, Spinfer, StartFailure};
