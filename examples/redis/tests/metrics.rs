//! The service's metrics reach an OTLP/HTTP receiver started inside the test, with the names
//! and attributes that dashboards and alerts query; and every metric the committed Grafana
//! dashboards and Prometheus alert rules query is one of those really exported.

mod common;

use std::{collections::BTreeSet, path::Path};

use common::{OtlpReceiver, TestEnv, TestServer, eventually, otlp_attr as attr};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric::Data};

use task_svc::telemetry;

// Two worker threads: flushing blocks one while the receiver answers on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_metrics_are_exported_over_otlp_and_cover_the_dashboards() {
    let mut receiver = OtlpReceiver::start().await;
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        // A few login attempts, then 429.
        ("AUTH_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTH_RATE_LIMIT_BURST", "3"),
        ("JOBS_POLL_INTERVAL_MS", "50"),
    ]);
    common::install_crypto_provider();
    let guard = telemetry::init(&config.telemetry).unwrap();
    let server = TestServer::start(&config).await;

    for path in ["/healthz", "/healthz", "/no/such/route"] {
        server.get(path).await;
    }
    // Registration queues a welcome email: a job for the worker.
    let ada = server.signed_in("ada@example.com").await;
    let mut statuses = Vec::new();
    while statuses.last() != Some(&429) && statuses.len() < 10 {
        let response = server.login("ada@example.com", "not the password").await;
        statuses.push(response.status().as_u16());
    }
    assert!(
        statuses.contains(&401),
        "a failed login first: {statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429), "then the limit: {statuses:?}");
    let task = server
        .post(
            "/tasks",
            Some(&ada.access),
            serde_json::json!({ "title": "measured" }),
        )
        .await;
    assert_eq!(task.status(), 201);
    eventually("every job is done", async || {
        let (pending, done): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status <> 'done'), count(*) FILTER (WHERE status = 'done')
             FROM jobs",
        )
        .fetch_one(server.db())
        .await
        .unwrap();
        pending == 0 && done > 0
    })
    .await;

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

    // HTTP: latency by route, method and status; requests in flight; load shedding.
    let Some(Data::Histogram(duration)) = &find("http.server.request.duration").data else {
        panic!("http.server.request.duration is a histogram");
    };
    assert_eq!(find("http.server.request.duration").unit, "s");
    let point = |route: &str, status: &str| {
        duration
            .data_points
            .iter()
            .find(|p| {
                attr(&p.attributes, "http.route").as_deref() == Some(route)
                    && attr(&p.attributes, "http.response.status_code").as_deref() == Some(status)
            })
            .unwrap_or_else(|| panic!("a data point for {route} answered {status}"))
    };
    let healthz = point("/healthz", "200");
    assert_eq!(healthz.count, 2);
    assert_eq!(
        attr(&healthz.attributes, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        attr(&healthz.attributes, "http.response.status_class").as_deref(),
        Some("2xx")
    );
    let unmatched = point("unmatched", "404");
    assert_eq!(
        attr(&unmatched.attributes, "http.response.status_class").as_deref(),
        Some("4xx"),
        "unknown paths are grouped under one route, not one series per path"
    );
    // Rate-limit rejections are the 429s.
    point("/auth/login", "429");
    let Some(Data::Sum(active)) = &find("http.server.active_requests").data else {
        panic!("http.server.active_requests is a sum");
    };
    assert!(!active.is_monotonic, "an up-down counter");
    let Some(Data::Sum(shed)) = &find("http.server.shed_requests").data else {
        panic!("http.server.shed_requests is a sum");
    };
    assert!(shed.is_monotonic, "a counter, exported from zero");

    // The pool: connections by state, the limit, and the wait for a connection.
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
    let Some(Data::Histogram(wait)) = &find("db.client.connection.wait_time").data else {
        panic!("db.client.connection.wait_time is a histogram");
    };
    assert!(wait.data_points.iter().map(|p| p.count).sum::<u64>() >= 1);

    // Jobs: the queue's depth by state, the oldest due job's wait, outcomes.
    let Some(Data::Gauge(depth)) = &find("jobs.queue.depth").data else {
        panic!("jobs.queue.depth is a gauge");
    };
    let mut job_states: Vec<String> = depth
        .data_points
        .iter()
        .filter_map(|p| attr(&p.attributes, "job.state"))
        .collect();
    job_states.sort();
    assert_eq!(job_states, ["dead", "due", "running", "scheduled"]);
    find("jobs.queue.oldest_due_age");
    let Some(Data::Sum(finished)) = &find("jobs.finished").data else {
        panic!("jobs.finished is a sum");
    };
    assert!(
        finished.data_points.iter().any(|p| {
            attr(&p.attributes, "outcome").as_deref() == Some("done")
                && attr(&p.attributes, "job.kind").as_deref() == Some("welcome_email")
        }),
        "the welcome email job finished"
    );

    // Security: failed logins and rate limiting, by kind.
    let Some(Data::Sum(events)) = &find("security.events").data else {
        panic!("security.events is a sum");
    };
    for kind in ["login_failed", "rate_limited"] {
        assert!(
            events
                .data_points
                .iter()
                .any(|p| attr(&p.attributes, "kind").as_deref() == Some(kind)),
            "a security event of kind {kind}"
        );
    }

    // Every metric the dashboards and alert rules query is one the service exported.
    let exported: BTreeSet<String> = metrics.iter().flat_map(prometheus_names).collect();
    let queried = queried_metrics();
    assert!(
        queried.len() >= 5,
        "the dashboards and alerts were read: {queried:?}"
    );
    let unknown: Vec<&String> = queried.difference(&exported).collect();
    assert!(
        unknown.is_empty(),
        "the dashboards or alerts query metrics the service does not export: {unknown:?}\nexported: {exported:?}"
    );
}

// ANCHOR: prometheus_names
/// The names under which Prometheus stores a metric, as the OpenTelemetry Collector's
/// Prometheus exporter writes them: dots become underscores, the unit `s` adds `_seconds`
/// (annotations such as `{request}` add nothing), counters end in `_total`, and a histogram
/// is three series.
fn prometheus_names(metric: &Metric) -> Vec<String> {
    let mut base = metric.name.replace('.', "_");
    if metric.unit == "s" {
        base.push_str("_seconds");
    }
    match &metric.data {
        Some(Data::Sum(sum)) if sum.is_monotonic => vec![format!("{base}_total")],
        Some(Data::Histogram(_)) => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|suffix| format!("{base}{suffix}"))
            .collect(),
        _ => vec![base],
    }
}
// ANCHOR_END: prometheus_names

/// Metric names in every PromQL expression of the dashboards (`deploy/grafana/dashboards/`) and
/// the alert rules (`deploy/prometheus/rules/`). Our queries always select with braces
/// (`name{...}`), which is what this looks for; an expression without any selector fails.
fn queried_metrics() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut expressions = Vec::new();
    for entry in std::fs::read_dir(root.join("deploy/grafana/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        collect_exprs(&dashboard, &mut expressions);
    }
    for entry in std::fs::read_dir(root.join("deploy/prometheus/rules")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        // The rule files are YAML; every expression is on one `expr:` line.
        for line in text.lines() {
            if let Some(expr) = line.trim_start().strip_prefix("expr:") {
                expressions.push(expr.trim().trim_matches(['\'', '"']).to_owned());
            }
        }
    }
    let mut names = BTreeSet::new();
    for expr in &expressions {
        let found = selector_names(expr);
        assert!(
            !found.is_empty(),
            "no selector (a metric name and braces) in {expr:?}"
        );
        names.extend(found);
    }
    names
}

fn collect_exprs(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    // Panel queries, and the service variable's `label_values(...)`.
                    ("expr" | "query", serde_json::Value::String(expr)) => {
                        into.push(expr.clone());
                    }
                    _ => collect_exprs(value, into),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, into)),
        _ => {}
    }
}

/// The identifiers written directly before a `{`.
fn selector_names(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut names = Vec::new();
    for (i, _) in expr.match_indices('{') {
        let start = (0..i).rev().take_while(|&j| is_name(bytes[j])).last();
        if let Some(start) = start {
            names.push(expr[start..i].to_owned());
        }
    }
    names
}

#[test]
fn selector_names_are_found() {
    assert_eq!(
        selector_names(
            r#"sum by (le) (rate(http_server_request_duration_seconds_bucket{route="/x"}[5m])) / sum(jobs_queue_depth{job_state="due"})"#
        ),
        [
            "http_server_request_duration_seconds_bucket",
            "jobs_queue_depth"
        ]
    );
    assert!(selector_names("up").is_empty());
}
