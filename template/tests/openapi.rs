//! The OpenAPI document covers every route, and `/docs` works with no network.

mod common;
{%- if webhooks %}
#[path = "openapi/webhooks.rs"]
mod webhook_routes;
{%- endif %}

use std::{io::Read, path::Path};

use common::{TestEnv, TestServer};

use {{crate_name}}::http::openapi;

/// Every route in the service; the document must list exactly these.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/auth/register"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("post", "/auth/logout-all"),
    ("post", "/auth/password/forgot"),
    ("post", "/auth/password/reset"),
    ("post", "/auth/verify-email"),
    ("post", "/me/verification-email"),
    ("post", "/me/email"),
    ("patch", "/me"),
    ("delete", "/me"),
    ("post", "/me/password"),
    ("get", "/me"),
    ("get", "/tasks"),
    ("post", "/tasks"),
    ("get", "/tasks/{id}"),
    ("put", "/tasks/{id}"),
    ("patch", "/tasks/{id}"),
    ("delete", "/tasks/{id}"),
    ("post", "/tasks/{id}/done"),
    ("post", "/tasks/bulk-delete"),
{%- if redis %}
    ("get", "/tasks/events"),
{%- endif %}
    ("get", "/users"),
    ("patch", "/users/{id}"),
    ("delete", "/users/{id}"),
    ("get", "/jobs"),
    ("post", "/jobs/{id}/requeue"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/docs/redoc.standalone.js"),
];

fn documented_operations(doc: &serde_json::Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            ops.push((method.clone(), path.clone()));
        }
    }
    ops.sort();
    ops
}

#[test]
fn the_document_lists_every_route_with_its_responses() {
    let doc = serde_json::to_value(openapi()).unwrap();
{%- if webhooks %}
    let routes = [ROUTES, webhook_routes::ROUTES].concat();
{%- else %}
    let routes = ROUTES.to_vec();
{%- endif %}
    let mut expected: Vec<(String, String)> = routes
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(documented_operations(&doc), expected);
    for (method, path) in routes {
        let responses = &doc["paths"][path][method]["responses"];
        assert!(
            responses.as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} documents its responses"
        );
    }
    assert!(
        doc["components"]["schemas"]["Problem"].is_object(),
        "the error body is documented"
    );
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["scheme"], "bearer");
    assert_eq!(bearer["bearerFormat"], "JWT");
}

/// Every `$ref` in the document names a schema the document defines: a client generator
/// stops at a dangling one.
#[test]
fn every_reference_resolves() {
    fn refs<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                    found.push(target);
                }
                map.values().for_each(|v| refs(v, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let doc = serde_json::to_value(openapi()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut found = Vec::new();
    refs(&doc, &mut found);
    let dangling: Vec<&&str> = found
        .iter()
        .filter(|target| {
            let name = target.trim_start_matches("#/components/schemas/");
            !schemas.contains_key(name)
        })
        .collect();
    assert!(found.len() > 20, "the document was read: {found:?}");
    assert!(
        dangling.is_empty(),
        "references to undefined schemas: {dangling:?}"
    );
}

// ANCHOR: committed_document
/// `openapi.json` at the project root is the document clients and reviewers read without
/// running the service; it must be the one the service serves. After changing the API, run
/// `just openapi` and commit the result with the change.
#[test]
fn the_committed_openapi_json_is_the_served_document() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path).expect("openapi.json at the project root"),
    )
    .expect("openapi.json is JSON");
    assert!(
        committed == serde_json::to_value(openapi()).unwrap(),
        "openapi.json is out of date: run `just openapi` and commit it"
    );
}
// ANCHOR_END: committed_document

/// `just openapi` writes what the binary's `openapi` command prints, which needs no
/// configuration at all.
#[test]
fn the_openapi_command_prints_the_served_document() {
    let output =
        std::process::Command::new(env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME"))))
            .arg("openapi")
            .env_clear()
            .output()
            .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(printed == serde_json::to_value(openapi()).unwrap());
}

/// Every operation that can fail for the caller says how: at least one 4xx response with the
/// problem body (the probes and the documentation itself cannot).
#[test]
fn every_operation_documents_its_errors() {
    let doc = serde_json::to_value(openapi()).unwrap();
    let cannot_fail = [
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/docs",
        "/docs/redoc.standalone.js",
    ];
    for (method, path) in documented_operations(&doc) {
        if cannot_fail.contains(&path.as_str()) {
            continue;
        }
        let responses = doc["paths"][&path][&method]["responses"]
            .as_object()
            .unwrap();
        let errors: Vec<&String> = responses
            .keys()
            .filter(|code| code.starts_with('4'))
            .collect();
        assert!(
            !errors.is_empty(),
            "{method} {path} documents no error response"
        );
        for code in errors {
            let content = &responses[code]["content"];
            assert!(
                content["application/problem+json"].is_object()
                    || content["application/json"].is_object(),
                "{method} {path} {code} documents its body: {content}"
            );
        }
    }
}

/// Routes registered with a plain `.route(...)` would be served but not documented; the
/// router is built only with `utoipa_axum::routes!`, and this keeps it so.
#[test]
fn no_route_is_registered_outside_the_openapi_router() {
    fn scan(dir: &Path, offenders: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, offenders);
            } else if path.ends_with("http/prometheus.rs") {
                // The scrape listener of `METRICS_PROMETHEUS`: its own port, not the API.
                continue;
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    if line.trim_start().starts_with("//") {
                        continue;
                    }
                    if line.contains(".route(")
                        || line.contains(".route_service(")
                        || line.contains(".nest_service(")
                    {
                        offenders.push(format!("{}:{}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    let mut offenders = Vec::new();
    scan(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut offenders,
    );
    assert!(
        offenders.is_empty(),
        "register routes with routes!(handler): {offenders:?}"
    );
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    let served: serde_json::Value = server.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(
        served,
        serde_json::to_value(openapi()).unwrap(),
        "served = built"
    );
    for (method, path) in documented_operations(&served) {
        let protected = served["paths"][&path][&method]["security"].is_array();
        let verb = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = server
            .client
            .request(verb, server.url(&path))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if protected {
            // The documented `security` is enforced: without a token, 401.
            assert_eq!(status, 401, "{method} {path}");
            assert!(
                served["paths"][&path][&method]["responses"]["401"].is_object(),
                "{method} {path} documents its 401"
            );
        } else {
            // Served (possibly refusing the empty request), not missing.
            assert!(
                ![404, 405].contains(&status),
                "{method} {path} answered {status}"
            );
        }
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_docs_page_loads_nothing_from_other_hosts() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;

    let page = server.get("/docs").await;
    // The browser may fetch only from the service itself (Redoc 3 would load a logo from a CDN).
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("http"), "no other host is allowed: {csp}");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<script type="module" src="/docs/redoc.standalone.js">"#),
        "{html}"
    );
    assert!(html.contains(r#"spec-url="/openapi.json""#));
    assert!(
        html.contains(r#"disable-telemetry="true""#),
        "no usage telemetry"
    );
    for external in ["http://", "https://", "//cdn", "fonts.googleapis"] {
        assert!(!html.contains(external), "the page references {external}");
    }

    // Browsers get the stored gzip bytes...
    let gz = server
        .client
        .get(server.url("/docs/redoc.standalone.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let bytes = gz.bytes().await.unwrap();
    let mut script = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut script)
        .unwrap();
    assert!(
        script.len() > 1_000_000 && script.contains("Redoc"),
        "the real bundle"
    );

    // ...and a client that does not accept gzip gets plain JavaScript.
    let plain = server.get("/docs/redoc.standalone.js").await;
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), script);
    server.shutdown().await.unwrap();
}
