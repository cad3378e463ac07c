//! How the base URL and the host-prefix option name the session cookie, through the whole
//! stack.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// The application with `base_origin` and the host-prefix option; returns it and its URL.
async fn app_at(base_origin: &str, host_only: bool) -> (TestApp, String) {
    let app = spawn_app_with(|settings| {
        settings.auth.base_origin = base_origin.to_owned();
        settings.auth.host_only_cookies = host_only;
    })
    .await;
    let url = format!("http://{}", app.addr);
    (app, url)
}

/// Signs up on `url` (no browser headers, as a server-side client) and returns the
/// `Set-Cookie` of the session token.
async fn session_set_cookie(client: &reqwest::Client, url: &str) -> String {
    let response = client
        .post(format!("{url}/api/auth/sign-up/email"))
        .json(&json!({ "name": "Ada", "email": "ada@example.com", "password": "correct horse battery staple" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("session_token="))
        .expect("a session cookie")
        .to_owned()
}

/// `get-session` with `cookie`: the user's email, or `None` for no session.
async fn session_email(client: &reqwest::Client, url: &str, cookie: &str) -> Option<String> {
    let body: Value = client
        .get(format!("{url}/api/auth/get-session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["user"]["email"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn an_https_base_url_names_cookies_secure_and_the_host_option_host() {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for (host_only, name) in [
        (false, "__Secure-better-auth.session_token"),
        (true, "__Host-better-auth.session_token"),
    ] {
        let (_app, url) = app_at("https://auth.example.test", host_only).await;
        let set_cookie = session_set_cookie(&client, &url).await;
        let pair = set_cookie.split(';').next().unwrap();
        let (set_name, value) = pair.split_once('=').unwrap();
        assert_eq!(set_name, name, "{set_cookie}");
        assert!(
            set_cookie.ends_with("; Path=/; HttpOnly; Secure; SameSite=Lax"),
            "{set_cookie}"
        );
        assert!(!set_cookie.contains("Domain="), "{set_cookie}");
        // The server reads back only the name it sets: an unprefixed copy is no session.
        assert_eq!(
            session_email(&client, &url, pair).await.as_deref(),
            Some("ada@example.com")
        );
        let unprefixed = format!("better-auth.session_token={value}");
        assert_eq!(session_email(&client, &url, &unprefixed).await, None);
    }
    // Plain http keeps Better Auth's unprefixed, non-Secure cookie.
    let (_app, url) = app_at("http://auth.example.test", false).await;
    let set_cookie = session_set_cookie(&client, &url).await;
    assert!(
        set_cookie.starts_with("better-auth.session_token="),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
}
