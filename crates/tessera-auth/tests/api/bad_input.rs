use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

on_both_backends! {
    async fn malformed_json_is_400_and_creates_nothing(app) {
        let resp = reqwest::Client::new()
            .post(app.url("/sign-up/email"))
            .header("content-type", "application/json")
            .body("{\"name\": \"A\", \"email\": \"a@b.co\",")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.json::<serde_json::Value>().await.unwrap(), json!({"message": "Invalid JSON in request body", "code": "BAD_REQUEST"}));
        assert!(app.state.store.find_user_by_email("a@b.co").await.unwrap().is_none());
    }

    async fn a_wrong_content_type_is_415(app) {
        let resp = reqwest::Client::new()
            .post(app.url("/sign-in/email"))
            .header("content-type", "text/plain")
            .body("email=a@b.co")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 415);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "UNSUPPORTED_MEDIA_TYPE");
        assert_eq!(
            body["message"],
            "Content-Type \"text/plain\" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json"
        );
        // better-call quotes the header as sent, parameters and all.
        let resp = reqwest::Client::new()
            .post(app.url("/sign-out"))
            .header("content-type", "text/plain; charset=utf-8")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 415);
        assert_eq!(
            resp.json::<serde_json::Value>().await.unwrap()["message"],
            "Content-Type \"text/plain; charset=utf-8\" is not allowed. Allowed types: application/json"
        );
    }

    async fn a_body_without_content_type_is_no_body_and_the_schema_words_the_error(app) {
        // No Content-Type: better-call does not read the body; the schema sees `undefined`.
        let resp = reqwest::Client::new()
            .post(app.url("/sign-up/email"))
            .body("{\"name\":\"A\",\"email\":\"a@b.co\",\"password\":\"correct horse battery\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(
            resp.json::<serde_json::Value>().await.unwrap(),
            json!({"message": "[body] Invalid input: expected object, received undefined; [body] Invalid input: expected record, received undefined", "code": "VALIDATION_ERROR"})
        );
        assert!(app.state.store.find_user_by_email("a@b.co").await.unwrap().is_none());
        let sign_in = app.send(Method::POST, "/sign-in/email", None, None, &[]).await;
        assert_eq!(sign_in.body["message"], "[body] Invalid input: expected object, received undefined");
        let array = reqwest::Client::new()
            .post(app.url("/sign-up/email"))
            .header("content-type", "application/json")
            .body("[1]")
            .send()
            .await
            .unwrap();
        assert_eq!(
            array.json::<serde_json::Value>().await.unwrap()["message"],
            "[body] Invalid input: expected object, received array; [body] Invalid input: expected record, received array"
        );
        // Sign-out's body is optional.
        let sign_out = app.send(Method::POST, "/sign-out", None, None, &[]).await;
        assert_eq!(sign_out.body, json!({"success": true}));
    }

    async fn a_body_over_one_mebibyte_is_413(app) {
        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 1));
        let resp = reqwest::Client::new()
            .post(app.url("/sign-up/email"))
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413);
        assert_eq!(resp.json::<serde_json::Value>().await.unwrap()["code"], "PAYLOAD_TOO_LARGE");
    }

    async fn unknown_paths_and_methods_are_an_empty_404(app) {
        for (method, path) in [(Method::GET, "/nope"), (Method::GET, "/sign-in/email"), (Method::DELETE, "/ok"), (Method::GET, "/ok/")] {
            let resp = app.send(method.clone(), path, None, None, &[]).await;
            assert_eq!((resp.status, resp.text.as_str()), (404, ""), "{method} {path}");
        }
    }

    async fn get_on_a_state_changing_endpoint_is_an_empty_404_and_changes_nothing(app) {
        // A link or an <img> on a hostile page sends a GET with the victim's cookie (SameSite=Lax
        // lets top-level navigations through): no GET may sign in, sign up, sign out, change a
        // password or a profile, or end a session, whatever the query says.
        let user = app.sign_up().await;
        let other = app.sign_up().await;
        let stranger = "get-sign-up@example.com";
        let query = format!(
            "email={stranger}&password=new+password+123&name=Mallory&newPassword=new+password+123\
             &currentPassword={}&revokeOtherSessions=true&token={}",
            PASSWORD.replace(' ', "+"),
            other.token
        );
        for path in [
            "/sign-up/email",
            "/sign-in/email",
            "/sign-out",
            "/change-password",
            "/update-user",
            "/revoke-session",
            "/revoke-sessions",
            "/revoke-other-sessions",
        ] {
            let resp = app.send(Method::GET, &format!("{path}?{query}"), None, Some(&user.cookie), &[]).await;
            assert_eq!((resp.status, resp.text.as_str()), (404, ""), "GET {path}");
            assert!(resp.set_cookies().is_empty(), "GET {path}: {:?}", resp.set_cookies());
        }
        // Both sessions live, names and passwords are unchanged, and no account was created.
        for who in [&user, &other] {
            let session = app.get_as(who, "/get-session").await;
            assert_eq!(session.body["user"]["id"], who.id.as_str(), "{}", session.text);
            assert_eq!(session.body["user"]["name"], "Test User");
            app.sign_in(&who.email, PASSWORD).await;
        }
        assert!(app.state.store.find_user_by_email(stranger).await.unwrap().is_none());
    }

    async fn a_garbage_cookie_or_bearer_is_simply_no_session(app) {
        for cookie in ["better-auth.session_token=%%%", "better-auth.session_token=a.b.c", "better-auth.session_token="] {
            let resp = app.send(Method::GET, "/get-session", None, Some(cookie), &[]).await;
            assert_eq!((resp.status, resp.text.as_str()), (200, "null"), "{cookie}");
        }
        for auth in ["Bearer", "Bearer ", "Basic abc", "Bearer not-a-session"] {
            let resp = app.send(Method::GET, "/token", None, None, &[("authorization", auth)]).await;
            assert_eq!(resp.status, 401, "{auth:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_gets_503_with_a_json_error() {
    let db = PgDatabase::create().await;
    let target: std::net::SocketAddr = {
        let url = url::Url::parse(&db.url).unwrap();
        let host = url.host_str().unwrap().to_owned();
        tokio::net::lookup_host((host.as_str(), url.port().unwrap_or(5432)))
            .await
            .unwrap()
            .next()
            .unwrap()
    };
    let proxy = CuttableProxy::start(target).await;
    let url = via_proxy(&db.url, proxy.addr);
    let app = TestApp::spawn_on(
        &url,
        None,
        Some(db),
        std::sync::Arc::new(tessera_auth::rate_limit::MemoryCounters::default()),
        |_| {},
    )
    .await;
    let user = app.sign_up().await;
    proxy.cut();
    for resp in [
        app.get_as(&user, "/get-session").await,
        app.post(
            "/sign-in/email",
            json!({"email": user.email, "password": PASSWORD}),
        )
        .await,
        app.post(
            "/sign-up/email",
            json!({"name": "B", "email": "b@example.com", "password": PASSWORD}),
        )
        .await,
    ] {
        assert_eq!(resp.status, 503, "{}", resp.text);
        assert_eq!(resp.code(), "SERVICE_UNAVAILABLE");
        assert_eq!(resp.header("retry-after"), Some("1"));
    }
}
