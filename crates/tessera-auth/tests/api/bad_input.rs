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

    async fn an_oversized_name_is_a_validation_error_and_stores_nothing(app) {
        for name in ["x".repeat(257), "😀".repeat(129), "x".repeat(1000 * 1000)] {
            let resp = app.post("/sign-up/email", json!({"name": name, "email": "long@example.com", "password": PASSWORD})).await;
            assert_eq!(
                (resp.status, resp.body.clone()),
                (400, json!({"message": "[body.name] Too big: expected string to have <=256 characters", "code": "VALIDATION_ERROR"})),
                "{} UTF-16 units", name.encode_utf16().count()
            );
        }
        assert!(app.state.store.find_user_by_email("long@example.com").await.unwrap().is_none());
        let long_email = format!("{}@example.com", "a".repeat(243));
        let resp = app.post("/sign-up/email", json!({"name": "A", "email": long_email, "password": PASSWORD})).await;
        assert_eq!((resp.status, resp.code()), (400, "VALIDATION_ERROR"), "{}", resp.text);
        assert!(app.state.store.find_user_by_email(&long_email).await.unwrap().is_none());

        let user = app.sign_up().await;
        let resp = app.post_as(&user, "/update-user", json!({"name": "x".repeat(257)})).await;
        assert_eq!(
            (resp.status, resp.body.clone()),
            (400, json!({"message": "[body.name] Too big: expected string to have <=256 characters", "code": "VALIDATION_ERROR"}))
        );
        assert_eq!(app.get_as(&user, "/get-session").await.body["user"]["name"], "Test User");
    }

    async fn a_nul_or_other_control_character_in_the_name_is_400_on_sign_up_and_update_user(app) {
        let refused = json!({"message": "[body.name] Invalid string: must not contain control characters", "code": "VALIDATION_ERROR"});
        for name in ["Ada\u{0}", "\u{0}", "Ada\u{1b}[2J", "Ada\nLovelace", "Ada\u{7f}", "Ada\u{85}"] {
            let resp = app.post("/sign-up/email", json!({"name": name, "email": "nul@example.com", "password": PASSWORD})).await;
            assert_eq!((resp.status, resp.body.clone()), (400, refused.clone()), "{name:?}");
        }
        // The same through a form, where a NUL arrives as `%00`.
        let resp = reqwest::Client::new()
            .post(app.url("/sign-up/email"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("name=Ada%00&email=nul%40example.com&password={}", PASSWORD.replace(' ', "+")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.json::<serde_json::Value>().await.unwrap(), refused);
        assert!(app.state.store.find_user_by_email("nul@example.com").await.unwrap().is_none());

        let user = app.sign_up().await;
        for name in ["Ada\u{0}", "Ada\u{9b}"] {
            let resp = app.post_as(&user, "/update-user", json!({"name": name})).await;
            assert_eq!((resp.status, resp.body.clone()), (400, refused.clone()), "{name:?}");
        }
        // Every field is checked before anything is written.
        let resp = app.post_as(&user, "/update-user", json!({"name": "\u{0}", "image": "https://img.example/ok.png"})).await;
        assert_eq!(resp.status, 400);
        let session = app.get_as(&user, "/get-session").await;
        assert_eq!((session.body["user"]["name"].clone(), session.body["user"]["image"].clone()), (json!("Test User"), json!(null)));
    }

    async fn an_image_that_is_not_an_absolute_http_url_is_400(app) {
        let invalid = json!({"message": "[body.image] Invalid URL", "code": "VALIDATION_ERROR"});
        for image in [
            "javascript:alert(1)",
            "data:image/png;base64,iVBORw0KGgo=",
            "/avatars/a.png",
            "not a url",
            "https://img.example/\"><script>",
        ] {
            let resp = app.post("/sign-up/email", json!({"name": "A", "email": "img@example.com", "password": PASSWORD, "image": image})).await;
            assert_eq!((resp.status, resp.body.clone()), (400, invalid.clone()), "{image}");
        }
        let long = format!("https://img.example/{}", "a".repeat(2048));
        let resp = app.post("/sign-up/email", json!({"name": "A", "email": "img@example.com", "password": PASSWORD, "image": long})).await;
        assert_eq!(resp.body["message"], "[body.image] Too big: expected string to have <=2048 characters");
        assert!(app.state.store.find_user_by_email("img@example.com").await.unwrap().is_none());

        let user = app.sign_up().await;
        assert_eq!(app.post_as(&user, "/update-user", json!({"image": "https://img.example/a.png"})).await.status, 200);
        for image in ["javascript:alert(1)", "https://img.example/\u{0}.png"] {
            let resp = app.post_as(&user, "/update-user", json!({"image": image})).await;
            assert_eq!((resp.status, resp.code()), (400, "VALIDATION_ERROR"), "{image:?}");
        }
        assert_eq!(app.get_as(&user, "/get-session").await.body["user"]["image"], "https://img.example/a.png");
    }

    async fn a_maximal_profile_still_works_and_its_jwt_fits_the_guards_limit(app) {
        // The most bytes each limit admits: 256 three-byte characters, 2048 ASCII characters and
        // a 254-character address.
        let name = "€".repeat(256);
        let image = format!("https://img.example/{}", "a".repeat(2048 - 20));
        let email = format!("{}@{}.example.com", "m".repeat(64), "d".repeat(254 - 77));
        assert_eq!((image.len(), email.len()), (2048, 254));
        let resp = app.post("/sign-up/email", json!({"name": name, "email": email, "password": PASSWORD, "image": image})).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        let user = app.user_from(&resp, &email);
        let token = app.get_as(&user, "/token").await.body["token"].as_str().unwrap().to_owned();
        let session = app.get_as(&user, "/get-session").await;
        assert_eq!(session.header("set-auth-jwt").map(str::len), Some(token.len()));
        // EdDSA's signature is 86 characters; RS256's 342 would still leave room under 8 KiB.
        assert!(token.len() < 5 * 1024, "{} bytes", token.len());
        let guard = tessera_guard::Guard::builder(tessera_guard::keys::RemoteJwks::remote(&app.url("/jwks")).unwrap())
            .issuer(ORIGIN)
            .audience(ORIGIN)
            .build();
        let verified = guard.verify(&token).await.expect("the guard accepts the JWT");
        assert_eq!(verified.claim("name"), Some(&json!(name)));
        assert_eq!(verified.claim("image"), Some(&json!(image)));
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
    let db = TestDatabase::create(Backend::Postgres, &[tessera_auth::store::migrations]).await;
    let target: std::net::SocketAddr = {
        let url = url::Url::parse(db.url()).unwrap();
        let host = url.host_str().unwrap().to_owned();
        tokio::net::lookup_host((host.as_str(), url.port().unwrap_or(5432)))
            .await
            .unwrap()
            .next()
            .unwrap()
    };
    let proxy = CuttableProxy::start(target).await;
    let url = via_proxy(db.url(), proxy.addr);
    let app = TestApp::spawn_on(
        &url,
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
