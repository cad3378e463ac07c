//! How handlers get an `AuthUser`: from the router state, from request extensions, through the
//! tower layer, or optionally; and the 403 ownership check.

use axum::extract::FromRef;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::json;
use tessera_guard::{AuthUser, Guard, GuardLayer};

use crate::helpers::*;

async fn whoami(user: AuthUser) -> String {
    user.user_id().to_owned()
}

#[tokio::test]
async fn the_owner_of_a_path_gets_through_and_anyone_else_gets_403() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let token = format!("Bearer {}", sign(&ED, &claims()));
    let own = get_with(&app, &format!("/api/{USER}/things"), Some(&token)).await;
    assert_eq!(own.status, StatusCode::OK);

    let other = get_with(&app, "/api/user-2/things", Some(&token)).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(
        other.body,
        json!({ "detail": "Cannot access other user's data" })
    );
    assert_eq!(other.www_authenticate, None);
}

#[tokio::test]
async fn authentication_is_checked_before_ownership() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let reply = get_with(&app, "/api/user-2/things", None).await;
    assert_eq!(
        reply.body,
        json!({ "detail": "Missing authorization header" })
    );
}

#[tokio::test]
async fn a_guard_can_live_in_a_larger_state_through_from_ref() {
    #[derive(Clone, FromRef)]
    struct AppState {
        guard: Guard,
        name: &'static str,
    }
    let clock = clock();
    let state = AppState {
        guard: asymmetric_guard(&clock),
        name: "tasks",
    };
    assert_eq!(state.name, "tasks");
    let router = Router::new().route("/me", get(whoami)).with_state(state);
    let reply = get_with(
        &router,
        "/me",
        Some(&format!("Bearer {}", sign(&EC, &claims()))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, json!(USER));
    assert_eq!(
        get_with(&router, "/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_guard_behind_an_arc_works_as_the_state() {
    let clock = clock();
    let router = Router::new()
        .route("/me", get(whoami))
        .with_state(std::sync::Arc::new(asymmetric_guard(&clock)));
    let reply = get_with(
        &router,
        "/me",
        Some(&format!("Bearer {}", sign(&ED, &claims()))),
    )
    .await;
    assert_eq!(reply.body, json!(USER));
}

#[tokio::test]
async fn a_stateless_router_finds_the_guard_in_request_extensions() {
    let clock = clock();
    let router: Router = Router::new()
        .route("/me", get(whoami))
        .layer(Extension(asymmetric_guard(&clock)));
    let ok = get_with(
        &router,
        "/me",
        Some(&format!("Bearer {}", sign(&ED, &claims()))),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    get_with(&router, "/me", Some("Bearer nope"))
        .await
        .assert_invalid_token();
}

#[tokio::test]
async fn a_router_without_any_guard_answers_500_instead_of_letting_requests_through() {
    let router: Router = Router::new().route("/me", get(whoami));
    let reply = get_with(
        &router,
        "/me",
        Some(&format!("Bearer {}", sign(&ED, &claims()))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.body, json!({ "detail": "Internal Server Error" }));
}

#[tokio::test]
async fn the_layer_rejects_before_any_handler_runs_and_hands_the_user_to_handlers() {
    let clock = clock();
    let router: Router = Router::new()
        .route("/me", get(whoami))
        .route(
            "/ext",
            get(|Extension(user): Extension<AuthUser>| async move { user.user_id().to_owned() }),
        )
        .route("/open", get(|| async { "never reached without a token" }))
        .layer(GuardLayer::new(asymmetric_guard(&clock)));
    let token = format!("Bearer {}", sign(&RSA, &claims()));
    for path in ["/me", "/ext", "/open"] {
        let missing = get_with(&router, path, None).await;
        assert_eq!(
            missing.body,
            json!({ "detail": "Missing authorization header" }),
            "{path}"
        );
        get_with(&router, path, Some("Bearer x.y.z"))
            .await
            .assert_invalid_token();
    }
    for path in ["/me", "/ext"] {
        let reply = get_with(&router, path, Some(&token)).await;
        assert_eq!(reply.body, json!(USER), "{path}");
    }
}

#[tokio::test]
async fn an_optional_user_is_none_without_a_header_but_a_bad_token_is_still_refused() {
    let clock = clock();
    let router = Router::new()
        .route(
            "/maybe",
            get(|user: Option<AuthUser>| async move {
                axum::Json(json!({ "user": user.map(|u| u.user_id().to_owned()) }))
            }),
        )
        .with_state(asymmetric_guard(&clock));
    assert_eq!(
        get_with(&router, "/maybe", None).await.body,
        json!({ "user": null })
    );
    let token = format!("Bearer {}", sign(&ED, &claims()));
    assert_eq!(
        get_with(&router, "/maybe", Some(&token)).await.body,
        json!({ "user": USER })
    );
    get_with(&router, "/maybe", Some("Bearer bad"))
        .await
        .assert_invalid_token();
    assert_eq!(
        get_with(&router, "/maybe", Some("Basic x")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_path_id_differing_from_sub_by_case_a_nul_or_a_space_is_another_user() {
    let clock = clock();
    let app = app(asymmetric_guard(&clock));
    let token = format!("Bearer {}", sign(&ED, &claims()));
    assert_eq!(
        get_with(&app, &format!("/api/{USER}/things"), Some(&token))
            .await
            .status,
        StatusCode::OK
    );
    for path in [
        "/api/USER-1/things",
        "/api/User-1/things",
        "/api/user-1%00/things",
        "/api/user-1%20/things",
        "/api/%20user-1/things",
        "/api/user-/things",
    ] {
        let reply = get_with(&app, path, Some(&token)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
    }
}
