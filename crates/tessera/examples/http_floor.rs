//! The cheapest HTTP server axum makes: one route answering a constant JSON body, nothing else
//! (no middleware, no logging, no state), on one runtime thread.
//!
//! Not part of Tessera. `bench/run.sh` measures it beside Tessera and the peers so that every
//! run shows what a keep-alive HTTP request over loopback TCP costs on that machine before any
//! application code runs: the floor under every row of the tables.
//!
//! `cargo run --release -p tessera --example http_floor -- 127.0.0.1:3999`
#![forbid(unsafe_code)]

use axum::Router;
use axum::http::header;
use axum::routing::get;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3999".to_owned());
    let app = Router::new().route(
        "/api/auth/ok",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"ok":true}"#,
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
