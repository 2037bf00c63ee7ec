//! The dispatcher a component instance's chained calls (`*.spin.internal`) go to: it puts
//! a span around each call, writes the W3C `traceparent` header for it (the callee's spans
//! hang under the call, as they would across a network hop), hands the request's
//! [`RequestRecord`] along so the callee's CPU and bytes are summed into the same request,
//! and passes the call to the server.

use super::record::RequestRecord;
use super::trace::traceparent;
use crate::outbound::{Dispatch, DispatchFuture};
use crate::response::{overloaded, Body};
use opentelemetry::trace::{Span as _, SpanContext, SpanKind};
use opentelemetry::KeyValue;
use std::sync::{Arc, Weak};
use std::time::SystemTime;

pub struct ChainedFrom {
    pub(super) server: Weak<dyn Dispatch>,
    pub(super) record: RequestRecord,
    /// The calling instance's span (or the request's trace when not tracing).
    pub(super) parent: Option<SpanContext>,
}

impl Dispatch for ChainedFrom {
    fn has_component(&self, id: &str) -> bool {
        self.server.upgrade().is_some_and(|s| s.has_component(id))
    }

    fn dispatch(
        self: Arc<Self>,
        component: String,
        mut request: http::Request<Body>,
        depth: u32,
    ) -> DispatchFuture {
        let Some(server) = self.server.upgrade() else {
            return Box::pin(async { overloaded("the server is shutting down") });
        };
        let mut span = self.record.tracing().map(|t| {
            let attributes = vec![
                KeyValue::new("http.request.method", request.method().to_string()),
                KeyValue::new("server.address", format!("{component}.spin.internal")),
            ];
            let name = format!("{} {component}.spin.internal", request.method());
            t.span(name, SpanKind::Client, self.parent.as_ref(), SystemTime::now(), attributes)
        });
        let context = span.as_ref().map(|s| s.span_context().clone()).or(self.parent.clone());
        if let Some(value) = context.as_ref().and_then(|c| traceparent(c).parse().ok()) {
            request.headers_mut().insert("traceparent", value);
        }
        request.extensions_mut().insert(self.record.clone());
        let answer = server.dispatch(component, request, depth);
        Box::pin(async move {
            let response = answer.await;
            if let Some(span) = span.as_mut() {
                let status = response.status().as_u16();
                span.set_attribute(KeyValue::new("http.response.status_code", status as i64));
                span.end();
            }
            response
        })
    }
}
