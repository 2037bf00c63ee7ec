//! The exposition the library renders: today's series under today's names and labels, the
//! new ones with their units, and OpenMetrics' closing line.

use super::*;

fn sample(text: &str, line_start: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no {line_start} in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn renders_every_family_under_its_documented_name() {
    let m = Metrics::default();
    m.request_done("classify", 200, 0.02);
    m.request_done("classify", 200, 0.03);
    m.inference_done("mobilenetv2", 0.01);
    m.rejected("frontend", Rejected::queue_full);
    m.connection_closed(ConnectionClose::header_timeout);
    m.instance_started("classify");
    let u = Usage {
        queue_wait: 0.001,
        in_component: 0.02,
        guest_cpu: 0.004,
        nn_cpu: 0.012,
        host_cpu: 0.0,
        nn_compute: 0.013,
        request_bytes: 1000,
        response_bytes: 300,
    };
    m.component_usage("classify", "mobilenetv2", &u);
    m.spans_dropped(3);
    let text = m.render();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(sample(&text, r#"spinfer_requests_total{component="classify",status="200"}"#), 2.0);
    assert_eq!(
        sample(&text, r#"spinfer_request_duration_seconds_count{component="classify"}"#),
        2.0
    );
    assert_eq!(
        sample(&text, r#"spinfer_inference_duration_seconds_count{model="mobilenetv2"}"#),
        1.0
    );
    assert_eq!(sample(&text, "spinfer_rejected_total"), 1.0);
    let rejection =
        r#"spinfer_admission_rejections_total{component="frontend",reason="queue_full"}"#;
    assert_eq!(sample(&text, rejection), 1.0);
    assert_eq!(sample(&text, r#"spinfer_connections_closed_total{reason="header_timeout"}"#), 1.0);
    assert_eq!(sample(&text, "spinfer_instances "), 1.0);
    assert_eq!(sample(&text, r#"spinfer_component_instances{component="classify"}"#), 1.0);
    let cm = r#"{component="classify",model="mobilenetv2"}"#;
    let cpu = sample(&text, &format!("spinfer_request_cpu_seconds_sum{cm}"));
    assert!((cpu - 0.016).abs() < 1e-12, "{cpu}");
    let guest =
        r#"spinfer_cpu_seconds_total{component="classify",model="mobilenetv2",kind="guest"}"#;
    assert_eq!(sample(&text, guest), 0.004);
    assert_eq!(sample(&text, &format!("spinfer_request_body_bytes_sum{cm}")), 1000.0);
    assert_eq!(sample(&text, "spinfer_trace_spans_dropped_total"), 3.0);
    assert!(text.contains("# UNIT spinfer_queue_wait_seconds seconds"), "{text}");
    assert!(text.contains("# TYPE spinfer_response_body_bytes histogram"), "{text}");
    m.instance_finished("classify");
    assert_eq!(sample(&m.render(), "spinfer_instances "), 0.0);
}
