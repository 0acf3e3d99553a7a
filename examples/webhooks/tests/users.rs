//! Roles: 401 without a valid token, 403 with too small a role; admin account management.

mod common;

use common::{PASSWORD, TestEnv, TestServer, assert_problem};
use reqwest::Method;
use serde_json::json;

async fn server() -> (TestEnv, TestServer) {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    (env, server)
}

async fn id_of(server: &TestServer, token: &str) -> String {
    let me: serde_json::Value = server
        .call(Method::GET, "/me", token, None)
        .await
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

// ANCHOR: roles_test
#[tokio::test]
async fn users_get_403_and_strangers_401_on_admin_routes() {
    let (_env, server) = server().await;
    let user = server.signed_in("user@example.com").await;
    let id = id_of(&server, &user.access).await;
    let forbidden = [
        server.call(Method::GET, "/users", &user.access, None).await,
        server
            .call(
                Method::PATCH,
                &format!("/users/{id}"),
                &user.access,
                Some(json!({"role": "admin"})),
            )
            .await,
        server
            .call(Method::DELETE, &format!("/users/{id}"), &user.access, None)
            .await,
    ];
    for response in forbidden {
        let body = assert_problem(response, 403).await;
        assert_eq!(body["code"], "forbidden");
    }
    assert_problem(server.get("/users").await, 401).await;
    // The user did not promote themselves.
    let me: serde_json::Value = server
        .call(Method::GET, "/me", &user.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "user");
}
// ANCHOR_END: roles_test

#[tokio::test]
async fn admins_page_through_users_with_bounded_limits() {
    let (_env, server) = server().await;
    let admin = server.admin("admin@example.com").await;
    for n in 0..3 {
        server
            .register(&format!("u{n}@example.com"), PASSWORD)
            .await;
    }
    let page: serde_json::Value = server
        .call(Method::GET, "/users?limit=2&offset=1", &admin.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 4);
    assert_eq!(page["limit"], 2);
    let emails: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["u0@example.com", "u1@example.com"]);
    for bad in [
        "limit=0",
        "limit=1000",
        "offset=-1",
        "limit=ten",
        "sort=email",
    ] {
        let response = server
            .call(Method::GET, &format!("/users?{bad}"), &admin.access, None)
            .await;
        assert_problem(response, 422).await;
    }
}

#[tokio::test]
async fn a_role_change_applies_to_tokens_already_issued() {
    let (_env, server) = server().await;
    let admin = server.admin("admin@example.com").await;
    let user = server.signed_in("user@example.com").await;
    let id = id_of(&server, &user.access).await;
    let promoted = server
        .call(
            Method::PATCH,
            &format!("/users/{id}"),
            &admin.access,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(promoted.status(), 200);
    let body: serde_json::Value = promoted.json().await.unwrap();
    assert_eq!(body["role"], "admin");
    // The token issued before the promotion already carries the new rights.
    let listed = server.call(Method::GET, "/users", &user.access, None).await;
    assert_eq!(listed.status(), 200);

    server.state().audit.flush().await;
    let changes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind = 'user_changed'")
            .fetch_one(server.db())
            .await
            .unwrap();
    assert_eq!(changes, 1);
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_and_blocks_login() {
    let (_env, server) = server().await;
    let admin = server.admin("admin@example.com").await;
    let user = server.signed_in("user@example.com").await;
    let id = id_of(&server, &user.access).await;
    let disabled = server
        .call(
            Method::PATCH,
            &format!("/users/{id}"),
            &admin.access,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(disabled.status(), 200);
    assert_problem(
        server.call(Method::GET, "/me", &user.access, None).await,
        401,
    )
    .await;
    let refresh = server
        .post(
            "/auth/refresh",
            None,
            json!({ "refresh_token": user.refresh }),
        )
        .await;
    assert_problem(refresh, 401).await;
    assert_problem(server.login("user@example.com", PASSWORD).await, 401).await;
    // Enabled again, the account can log in.
    server
        .call(
            Method::PATCH,
            &format!("/users/{id}"),
            &admin.access,
            Some(json!({"disabled": false})),
        )
        .await;
    assert_eq!(
        server.login("user@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn admin_mistakes_get_precise_errors() {
    let (_env, server) = server().await;
    let admin = server.admin("admin@example.com").await;
    let own = id_of(&server, &admin.access).await;
    let ghost = uuid::Uuid::now_v7();
    let patch = |path: String, body: serde_json::Value| {
        let server = &server;
        let token = admin.access.clone();
        async move { server.call(Method::PATCH, &path, &token, Some(body)).await }
    };
    assert_problem(
        patch(format!("/users/{own}"), json!({"role": "user"})).await,
        409,
    )
    .await;
    assert_problem(
        patch(format!("/users/{ghost}"), json!({"role": "user"})).await,
        404,
    )
    .await;
    assert_problem(
        patch("/users/not-a-uuid".into(), json!({"role": "user"})).await,
        400,
    )
    .await;
    assert_problem(patch(format!("/users/{own}"), json!({})).await, 422).await;
    assert_problem(
        patch(format!("/users/{own}"), json!({"role": "root"})).await,
        422,
    )
    .await;
    let self_delete = server
        .call(
            Method::DELETE,
            &format!("/users/{own}"),
            &admin.access,
            None,
        )
        .await;
    assert_problem(self_delete, 409).await;
}

#[tokio::test]
async fn deleting_an_account_removes_it_and_its_sessions() {
    let (_env, server) = server().await;
    let admin = server.admin("admin@example.com").await;
    let user = server.signed_in("user@example.com").await;
    let id = id_of(&server, &user.access).await;
    let path = format!("/users/{id}");
    assert_eq!(
        server
            .call(Method::DELETE, &path, &admin.access, None)
            .await
            .status(),
        204
    );
    assert_problem(
        server
            .call(Method::DELETE, &path, &admin.access, None)
            .await,
        404,
    )
    .await;
    assert_problem(
        server.call(Method::GET, "/me", &user.access, None).await,
        401,
    )
    .await;
    let tokens: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE user_id = $1::text::uuid")
            .bind(&id)
            .fetch_one(server.db())
            .await
            .unwrap();
    assert_eq!(tokens, 0);
}
