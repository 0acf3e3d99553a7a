//! Configuration errors name their variable; secrets never show.

use std::{collections::HashMap, process::Command};

use secrecy::ExposeSecret;

use task_svc::config::Config;
use task_svc::config::LogFormat;

fn load(vars: &[(&str, &str)]) -> Result<Config, String> {
    let vars: HashMap<&str, &str> = vars.iter().copied().collect();
    Config::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).map_err(|e| e.to_string())
}

const DB: (&str, &str) = (
    "DATABASE_URL",
    "postgres://app:s3cr3t-pw@db.internal:5432/app",
);
const REDIS: (&str, &str) = ("REDIS_URL", "redis://:r3dis-pw@cache.internal:6379");

const JWT: (&str, &str) = ("JWT_SECRET", "a-jwt-secret-of-forty-bytes-0123456789ab");
const PEPPERS: (&str, &str) = (
    "PASSWORD_PEPPERS",
    "1=old-pepper-0123456789,2=new-pepper-0123456789",
);

fn valid() -> Vec<(&'static str, &'static str)> {
    vec![DB, JWT, PEPPERS, REDIS]
}

#[test]
fn defaults_apply_when_only_required_variables_are_set() {
    let config = load(&valid()).unwrap();
    assert_eq!(config.http.addr.to_string(), "127.0.0.1:8080");
    assert_eq!(config.http.body_limit_bytes, 1_048_576);
    assert!(config.http.cors_allowed_origins.is_empty());
    assert_eq!(config.database.max_connections, 16);
    assert!(config.database.migrate && config.database.create_if_missing);
    assert_eq!(config.telemetry.log_format, LogFormat::Pretty);
    assert_eq!(config.telemetry.otlp_endpoint, None);
    assert_eq!(config.database.url.expose_secret(), DB.1);
}

#[test]
fn a_missing_required_variable_is_named() {
    let err = load(&[]).unwrap_err();
    assert!(err.contains("DATABASE_URL is required"), "{err}");
    assert!(err.contains("JWT_SECRET is required"), "{err}");
    assert!(err.contains("PASSWORD_PEPPERS is required"), "{err}");
    assert!(err.contains("REDIS_URL is required"), "{err}");
}

#[test]
fn every_malformed_variable_is_reported_at_once() {
    let mut vars = valid();
    vars.extend([
        ("APP_ADDR", "not-an-address"),
        ("HTTP_REQUEST_TIMEOUT_MS", "soon"),
        ("DATABASE_MAX_CONNECTIONS", "-3"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "info,=[broken"),
        (
            "CORS_ALLOWED_ORIGINS",
            "https://ok.example.com,https://bad.example.com/",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
        ("SHUTDOWN_DRAIN_TIMEOUT_MS", "0"),
        ("TRUSTED_PROXY_CIDRS", "10.0.0.0/8,10.0.0.0/33"),
    ]);
    let err = load(&vars).unwrap_err();
    for name in [
        "APP_ADDR",
        "HTTP_REQUEST_TIMEOUT_MS",
        "DATABASE_MAX_CONNECTIONS",
        "LOG_FORMAT",
        "LOG_LEVEL",
        "CORS_ALLOWED_ORIGINS",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "SHUTDOWN_DRAIN_TIMEOUT_MS",
        "TRUSTED_PROXY_CIDRS holds \"10.0.0.0/33\"",
    ] {
        assert!(err.contains(name), "{name} missing from: {err}");
    }
}

#[test]
fn a_refresh_family_shorter_than_one_refresh_token_is_refused() {
    let mut vars = valid();
    vars.extend([
        ("REFRESH_TOKEN_TTL_SECS", "3600"),
        ("REFRESH_FAMILY_MAX_AGE_SECS", "600"),
    ]);
    let err = load(&vars).unwrap_err();
    assert!(
        err.contains("REFRESH_FAMILY_MAX_AGE_SECS must be at least REFRESH_TOKEN_TTL_SECS"),
        "{err}"
    );
    vars.push(("REFRESH_FAMILY_MAX_AGE_SECS", "3600"));
    assert!(load(&vars).is_ok());
}

#[test]
fn a_database_url_with_the_wrong_scheme_is_refused_without_echoing_it() {
    let mut vars = valid();
    vars[0] = ("DATABASE_URL", "mysql://root:hunter2@db/app");
    let err = load(&vars).unwrap_err();
    assert!(
        err.contains("DATABASE_URL must start with postgres://"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let config = load(&valid()).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cr3t-pw"), "{debug}");
    assert!(!debug.contains("r3dis-pw"), "{debug}");
    assert!(debug.contains("REDACTED"));
}

/// The real binary stops before doing anything, exit code 2, naming the variable.
#[test]
fn the_binary_refuses_to_start_on_bad_configuration() {
    let dir = std::env::temp_dir().join(format!("cfg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // The service binary, whatever the project is called.
    let binary = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));
    let output = Command::new(binary)
        .current_dir(&dir) // no .env there
        .env_clear()
        .env("DATABASE_URL", "postgres://u:topsecret@127.0.0.1:1/x")
        .env("DATABASE_MAX_CONNECTIONS", "many")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("DATABASE_MAX_CONNECTIONS=\"many\" is not valid"),
        "{stderr}"
    );
    assert!(!stderr.contains("topsecret"), "{stderr}");
}

/// Every variable the service reads is documented in `.env.example`, and nothing else is.
#[test]
fn env_example_documents_exactly_the_variables_the_service_reads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // Every section of the configuration reads its variables in its own file.
    let mut source = String::new();
    for entry in std::fs::read_dir(root.join("src/config")).unwrap() {
        source += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
    }
    let mut read: Vec<&str> = source
        .split('"')
        .skip(1)
        .step_by(2) // the contents of string literals
        .filter(|s| {
            s.len() > 3
                && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                && !s.starts_with("CARGO_")
        })
        .collect();
    read.sort_unstable();
    read.dedup();
    let example = std::fs::read_to_string(root.join(".env.example")).unwrap();
    let mut documented: Vec<&str> = example
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .collect();
    // Read at build time by the SQLx macros, not by the service.
    documented.retain(|name| *name != "SQLX_OFFLINE");
    documented.sort_unstable();
    assert!(
        read.len() >= 10,
        "found the variables in src/config/: {read:?}"
    );
    assert_eq!(read, documented);
}

#[test]
fn auth_defaults_are_safe_and_the_highest_pepper_is_current() {
    let config = load(&valid()).unwrap();
    assert_eq!(config.auth.access_ttl.as_secs(), 900);
    assert_eq!(config.auth.hash_memory_kib, 19_456);
    assert_eq!(config.auth.hash_iterations, 2);
    assert_eq!(config.auth.peppers.current().0, 2);
    assert!(config.auth.peppers.get(1).is_some());
    assert!(config.http.trusted_proxies.is_empty());
    // Debug output names the pepper ids but never the secrets.
    let debug = format!("{config:?}");
    assert!(!debug.contains("0123456789"), "{debug}");
    assert!(!debug.contains("forty-bytes"), "{debug}");
}

#[test]
fn weak_or_malformed_auth_secrets_are_refused_without_echoing_them() {
    let mut vars = valid();
    vars.extend([
        ("JWT_SECRET", "short-secret"),
        ("PASSWORD_PEPPERS", "1=tiny,x=also-not-valid-0123456789"),
        ("PASSWORD_HASH_MEMORY_KIB", "1"),
    ]);
    let err = load(&vars).unwrap_err();
    assert!(
        err.contains("JWT_SECRET must be at least 32 bytes"),
        "{err}"
    );
    assert!(err.contains("PASSWORD_PEPPERS: entry 1"), "{err}");
    assert!(err.contains("PASSWORD_PEPPERS: entry 2"), "{err}");
    assert!(err.contains("PASSWORD_HASH_MEMORY_KIB"), "{err}");
    for secret in ["short-secret", "tiny", "also-not-valid"] {
        assert!(!err.contains(secret), "{secret} leaked: {err}");
    }
}
