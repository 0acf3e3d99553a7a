//! Logs, traces and metrics. Logs go to stdout, pretty or JSON; spans and metrics are exported
//! over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; with `METRICS_PROMETHEUS=true` the
//! metrics can also be scraped. Nothing is exported (or started) otherwise: the metric
//! instruments then record into a no-op provider.

use std::collections::HashSet;
use std::sync::OnceLock;

use axum::http::HeaderMap;
use opentelemetry::{Key, trace::TracerProvider as _};
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_prometheus::ResourceSelector;
use opentelemetry_sdk::{
    Resource, metrics::SdkMeterProvider, propagation::TraceContextPropagator,
    trace::SdkTracerProvider,
};
use tracing::Span;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::{LogFormat, TelemetryConfig};

/// Keeps the export pipelines alive; [`TelemetryGuard::shutdown`] flushes what is buffered.
#[must_use = "dropping the guard without shutdown loses the spans and metrics still buffered"]
pub struct TelemetryGuard {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
    /// Writes out the log lines still queued when it is dropped (after `shutdown`).
    _logs: WorkerGuard,
}

impl TelemetryGuard {
    /// Exports what is still buffered. Call once, last thing before the process exits.
    pub fn shutdown(self) {
        if let Some(tracer) = self.tracer
            && let Err(err) = tracer.shutdown()
        {
            eprintln!("telemetry: flushing spans at shutdown failed: {err}");
        }
        if let Some(meter) = self.meter
            && let Err(err) = meter.shutdown()
        {
            eprintln!("telemetry: flushing metrics at shutdown failed: {err}");
        }
    }
}

// ANCHOR: otlp_init
/// Installs the global subscriber. Call once per process.
pub fn init(config: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_new(&config.log_level)?;
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    let endpoint = config.otlp_endpoint.as_deref();
    let tracer = endpoint
        .map(|endpoint| tracer_provider(endpoint, resource.clone()))
        .transpose()?;
    let meter = meter_provider(endpoint, config.prometheus_addr.is_some(), resource)?;
    if let Some(meter) = &meter {
        // Instruments created from now on (see `http::metrics`) record into this provider.
        opentelemetry::global::set_meter_provider(meter.clone());
    }
    let otel = tracer.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(env!("CARGO_PKG_NAME")))
    });
    // ANCHOR_END: otlp_init
    // ANCHOR: log_lines
    // Lines are formatted where they are logged but written to stdout by a thread of their
    // own: a write to a full pipe or a slow terminal blocks, and it must not block an async
    // worker (and every request queued behind it). Not lossy: past 128k queued lines a caller
    // waits rather than a line (an audit event, say) being dropped.
    let (stdout, logs) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::stdout());
    let fmt = match config.log_format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer().with_writer(stdout).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(stdout)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()?;
    // ANCHOR_END: log_lines
    Ok(TelemetryGuard {
        tracer,
        meter,
        _logs: logs,
    })
}

fn tracer_provider(endpoint: &str, resource: Resource) -> anyhow::Result<SdkTracerProvider> {
    // Continue traces started by callers that send a W3C `traceparent` header.
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

// ANCHOR: meter_provider
/// Metrics are pushed over OTLP every 60 s (the SDK's default interval) and at shutdown, when
/// there is an endpoint; with `prometheus`, they are also kept for `GET /metrics` on the scrape
/// listener ([`prometheus_registry`]). `None` when neither: instruments stay no-ops.
fn meter_provider(
    endpoint: Option<&str>,
    prometheus: bool,
    resource: Resource,
) -> anyhow::Result<Option<SdkMeterProvider>> {
    if endpoint.is_none() && !prometheus {
        return Ok(None);
    }
    let mut builder = SdkMeterProvider::builder().with_resource(resource);
    if let Some(endpoint) = endpoint {
        let exporter = MetricExporter::builder()
            .with_http()
            .with_endpoint(format!("{endpoint}/v1/metrics"))
            .build()?;
        builder = builder.with_periodic_exporter(exporter);
    }
    if prometheus {
        let registry = prometheus::Registry::new();
        let reader = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            // `service_name` on every series, as the collector's exporter writes it, so the
            // dashboards' `service_name=~"$service"` selects them either way.
            .with_resource_selector(ResourceSelector::KeyAllowList(HashSet::from([
                Key::from_static_str("service.name"),
            ])))
            // No `otel_scope_*` labels: nothing queries them, and every series would carry them.
            .scope_info_enabled(false)
            .build()?;
        builder = builder.with_reader(reader);
        // A second `init` in one process (tests) keeps the first registry.
        let _ = PROMETHEUS.set(registry);
    }
    Ok(Some(builder.build()))
}
// ANCHOR_END: meter_provider

/// The metrics `GET /metrics` serves, when `METRICS_PROMETHEUS=true` made [`init`] keep them.
static PROMETHEUS: OnceLock<prometheus::Registry> = OnceLock::new();

/// The registry the scrape listener encodes (`http::prometheus`); `None` unless [`init`] ran
/// with `METRICS_PROMETHEUS=true`.
pub fn prometheus_registry() -> Option<prometheus::Registry> {
    PROMETHEUS.get().cloned()
}

/// Makes `span` a child of the trace context found in the request headers, if any.
pub fn set_remote_parent(span: &Span, headers: &HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&opentelemetry_http::HeaderExtractor(headers))
    });
    // Without an exporter there is no OpenTelemetry layer, and nothing to attach to.
    let _ = span.set_parent(parent);
}
