//! `TESSERA_METRICS_ADDR` from the environment: the binary starts the metrics listener there,
//! and only there.

use reqwest::StatusCode;

use crate::helpers::{client, free_port, serve};

/// `GET url`: the status and the body.
async fn fetch(url: &str) -> (StatusCode, String) {
    let response = client().get(url).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_metrics_address_from_the_environment_serves_metrics_and_the_public_one_does_not() {
    let metrics = format!("127.0.0.1:{}", free_port());
    let instance = serve(&[("TESSERA_METRICS_ADDR", &metrics)]).await;
    let url = &instance.url;
    assert_eq!(fetch(&format!("{url}/api/auth/ok")).await.0, StatusCode::OK);
    assert_eq!(
        fetch(&format!("{url}/metrics")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, text) = fetch(&format!("http://{metrics}/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(
            r#"tessera_http_requests_total{route="/api/auth/ok",method="GET",status="200"} 1"#
        ),
        "{text}"
    );
}
