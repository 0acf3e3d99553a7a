//! The ceiling `just bench` measures `/healthz` against: a bare axum server on the same
//! runtime as the service (`#[tokio::main]`, one worker thread per core) with no middleware,
//! answering the same body. The ratio of the two is the cost of our middleware stack.
//!
//! It doubles as the local webhook receiver of the delivery benchmark: `POST /hook` answers
//! 204 at once, so what is measured is the sender, not the receiver.
//!
//! Usage: `cargo run --release --example bench-hello -- 127.0.0.1:8090`

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::routing::{get, post};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let app = Router::new()
        .route(
            "/",
            get(|| async { ([(CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#) }),
        )
        .route("/hook", post(|| async { StatusCode::NO_CONTENT }));
    let listener = TcpListener::bind(&addr).await?;
    // For people starting it by hand; the harness polls the address until it answers.
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
