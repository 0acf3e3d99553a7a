//! Logs, traces and metrics: format, level, and where to export.

use std::net::SocketAddr;

use super::reader::Reader;

#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `pretty` for people, `json` for log pipelines (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// An `EnvFilter` directive such as `info,sqlx=warn` (`LOG_LEVEL`).
    pub log_level: String,
    /// Base URL of an OTLP/HTTP receiver; traces are exported only when set
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute (`OTEL_SERVICE_NAME`).
    pub service_name: String,
    /// Where Prometheus scrapes `GET /metrics`, on a listener of its own, when
    /// `METRICS_PROMETHEUS=true` (`METRICS_PROMETHEUS_ADDR`); off by default.
    pub prometheus_addr: Option<SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "snake_case", ascii_case_insensitive)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl TelemetryConfig {
    pub(super) fn read(env: &mut Reader) -> Self {
        Self {
            log_format: env.choice("LOG_FORMAT", LogFormat::Pretty),
            log_level: env.log_filter("LOG_LEVEL", "info,sqlx=warn"),
            otlp_endpoint: env.optional_url("OTEL_EXPORTER_OTLP_ENDPOINT"),
            service_name: env.string("OTEL_SERVICE_NAME", env!("CARGO_PKG_NAME")),
            prometheus_addr: env
                .parse::<bool>("METRICS_PROMETHEUS", "false")
                .then(|| env.parse("METRICS_PROMETHEUS_ADDR", "127.0.0.1:9464")),
        }
    }
}
