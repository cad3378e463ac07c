//! `TESSERA_METRICS_ADDR` from the environment: the binary starts the metrics listener there,
//! and only there.

use reqwest::StatusCode;

use crate::helpers::{client, free_port, serve};

#[tokio::test]
async fn the_metrics_address_from_the_environment_serves_metrics_and_the_public_one_does_not() {
    let metrics = format!("127.0.0.1:{}", free_port());
    let instance = serve(&[("TESSERA_METRICS_ADDR", &metrics)]).await;
    let client = client();
    let ok = client
        .get(format!("{}/api/auth/ok", instance.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let public = client
        .get(format!("{}/metrics", instance.url))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let scraped = client
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.unwrap();
    assert!(
        text.contains(
            r#"tessera_http_requests_total{route="/api/auth/ok",method="GET",status="200"} 1"#
        ),
        "{text}"
    );
}
