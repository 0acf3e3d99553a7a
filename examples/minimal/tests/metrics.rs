//! Request and pool metrics reach an OTLP/HTTP receiver started inside the test, with the
//! names and attributes that dashboards and alerts query.

mod common;

use common::{OtlpReceiver, TestEnv, TestServer, otlp_attr as attr};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data};

use task_svc::telemetry;

// Two worker threads: flushing blocks one while the receiver answers on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_pool_metrics_are_exported_over_otlp() {
    let mut receiver = OtlpReceiver::start().await;
    let env = TestEnv::new().await;
    let config = env.config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str())]);
    let guard = telemetry::init(&config.telemetry).unwrap();
    let server = TestServer::start(&config).await;
    for path in ["/healthz", "/healthz", "/no/such/route"] {
        server.get(path).await;
    }
    server.shutdown().await.unwrap();
    // Shutting the meter provider down exports what it has collected.
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();

    let mut metrics: Vec<Metric> = Vec::new();
    for batch in receiver.metrics() {
        for resource in batch.resource_metrics {
            for scope in resource.scope_metrics {
                metrics.extend(scope.metrics);
            }
        }
    }
    let find = |name: &str| {
        metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} was not exported"))
    };

    let Some(Data::Histogram(duration)) = &find("http.server.request.duration").data else {
        panic!("http.server.request.duration is a histogram");
    };
    assert_eq!(find("http.server.request.duration").unit, "s");
    let healthz = duration
        .data_points
        .iter()
        .find(|p| attr(&p.attributes, "http.route").as_deref() == Some("/healthz"))
        .expect("a data point for /healthz");
    assert_eq!(healthz.count, 2);
    assert_eq!(
        attr(&healthz.attributes, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        attr(&healthz.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attr(&healthz.attributes, "http.response.status_class").as_deref(),
        Some("2xx")
    );
    let unmatched = duration
        .data_points
        .iter()
        .find(|p| attr(&p.attributes, "http.route").as_deref() == Some("unmatched"))
        .expect("unknown paths are grouped under one route, not one series per path");
    assert_eq!(
        attr(&unmatched.attributes, "http.response.status_class").as_deref(),
        Some("4xx")
    );

    let Some(Data::Sum(active)) = &find("http.server.active_requests").data else {
        panic!("http.server.active_requests is a sum");
    };
    assert!(!active.is_monotonic, "an up-down counter");

    let Some(Data::Gauge(connections)) = &find("db.client.connection.count").data else {
        panic!("db.client.connection.count is a gauge");
    };
    let mut states: Vec<String> = connections
        .data_points
        .iter()
        .filter_map(|p| attr(&p.attributes, "db.client.connection.state"))
        .collect();
    states.sort();
    assert_eq!(states, ["idle", "used"]);
    find("db.client.connection.max");
}
