//! The label sets of the host's metric families, as typed structs (the field order is
//! the label order a scrape shows).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ComponentStatus {
    pub component: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct Component {
    pub component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct Model {
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ComponentModel {
    pub component: String,
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct CpuKind {
    pub component: String,
    pub model: String,
    pub kind: &'static str,
}

/// Why admission answered 503.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Rejected {
    /// The queue already held `--max-queue` requests.
    queue_full,
    /// No slot freed up within `--queue-timeout-ms`.
    queue_timeout,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct Rejection {
    pub component: String,
    pub reason: Rejected,
}

/// Why the host closed a connection.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ConnectionClose {
    /// A request's headers took longer than `--header-timeout-ms` (slowloris).
    header_timeout,
    /// Nothing moved for `--idle-timeout-ms`.
    idle,
    /// Over `--max-connections`: answered 503 and closed.
    cap,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct Reason {
    pub reason: ConnectionClose,
}
