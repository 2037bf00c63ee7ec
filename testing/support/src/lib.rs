//! Dev-only helpers shared by spinfer's tests and benchmarks (never in the serving
//! binary): a small blocking HTTP/1.1 client ([`client`]), `spinfer up` started on a
//! free loopback port and awaited ([`process`]), and hostile inputs ([`images`]).

pub mod client;
pub mod images;
pub mod process;

pub use client::{request, try_request, Response};
pub use process::{free_port, spinfer_bin, KillOnDrop, Spinfer, StartFailure};
