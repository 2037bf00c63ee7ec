//! Why the shim refused an app, where `kubectl describe pod` shows it.
//!
//! runwasi calls [`Sandbox::can_handle`](containerd_shim_wasm::sandbox::Sandbox) inside
//! youki's container init process, at task *create* (under the CRI: in StartContainer).
//! When it fails, runwasi keeps the error for its log and answers youki with
//! `CantHandle(Shim::name())`, whose text — "`<name>` executor can't handle spec" — is the
//! only thing that travels back through youki, the shim's ttrpc reply, containerd and the
//! kubelet into the pod's status; the reason stayed in the container log.
//!
//! So the init process that refused the app records the reason here, and from then on
//! [`shim_name`] — what `Shim::name()` returns — carries it: the error reads
//! "spinfer refused the app: `<reason>`; the spinfer executor can't handle spec". Only
//! that process, which is about to exit, ever sees the longer name: the shim, runwasi's
//! zygote and every other container keep "spinfer" (the name containerd paths and
//! content labels are made from).

use std::sync::OnceLock;

/// The runtime's name, as containerd knows it.
pub const NAME: &str = "spinfer";
/// The most of a reason kept: a pod status message, not a log.
const MAX_REASON: usize = 1500;

static REFUSED: OnceLock<&'static str> = OnceLock::new();

/// `Shim::name()`: "spinfer", or in a container process that refused its app, the name
/// with the reason in front.
pub fn shim_name() -> &'static str {
    REFUSED.get().copied().unwrap_or(NAME)
}

/// Record why this container process refuses its app (first reason wins).
pub fn record(reason: &str) {
    let _ = REFUSED.set(Box::leak(describe(reason).into_boxed_str()));
}

fn describe(reason: &str) -> String {
    let mut reason = reason.replace('\n', " ");
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
    format!("{NAME} refused the app: {reason}; the {NAME}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_reads_well_in_youkis_sentence() {
        let name =
            describe("model \"resnet50\": file /opt/spinfer/models/resnet50/model.onnx not found");
        assert_eq!(
            format!("{name} executor can't handle spec"),
            "spinfer refused the app: model \"resnet50\": file /opt/spinfer/models/resnet50/model.onnx \
             not found; the spinfer executor can't handle spec"
        );
        let long = describe(&"é".repeat(2000));
        assert!(long.len() < MAX_REASON + 100 && long.contains('…'));
    }

    #[test]
    fn name_is_plain_until_a_refusal() {
        assert_eq!(shim_name(), NAME);
        record("bad");
        assert!(shim_name().starts_with("spinfer refused the app: bad"));
    }
}
