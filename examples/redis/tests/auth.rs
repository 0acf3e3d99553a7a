//! Accounts and sessions over real HTTP against a real database: register, login, refresh
//! rotation and reuse detection, logout, and every way an access token can be bad.

mod common;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{PASSWORD, TestEnv, TestServer, assert_problem};
use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde_json::json;

const SECRET: &str = "test-secret-test-secret-test-secret-0123";

async fn server() -> (TestEnv, TestServer) {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    (env, server)
}

async fn me(server: &TestServer, token: &str) -> reqwest::Response {
    server.call(Method::GET, "/me", token, None).await
}

#[tokio::test]
async fn register_answers_201_with_the_account_and_never_the_hash() {
    let (_env, server) = server().await;
    let response = server.register("Ada@Example.com", PASSWORD).await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["email"], "Ada@Example.com");
    assert_eq!(body["role"], "user");
    assert_eq!(body["disabled"], false);
    assert!(body["id"].is_string());
    let text = body.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
}

#[tokio::test]
async fn registering_a_taken_email_in_any_case_answers_as_for_a_new_one_and_tells_the_owner() {
    let (_env, server) = server().await;
    let first = server.register("ada@example.com", PASSWORD).await;
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();

    // A stranger (or Ada, forgetful) registers the address again, with another password.
    let other_password = "another long password";
    let again = server.register("ADA@example.COM", other_password).await;
    assert_eq!(again.status(), 201, "the answer a new account gets");
    let again: serde_json::Value = again.json().await.unwrap();
    let keys = |v: &serde_json::Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&again), keys(&first), "the same shape");
    assert_ne!(again["id"], first["id"], "and nothing of the real account");
    assert_eq!(again["email"], "ADA@example.COM");
    // Timestamps as precise as a stored account's (Postgres keeps microseconds).
    let digits = |v: &serde_json::Value| {
        let at = v["created_at"].as_str().unwrap().trim_end_matches('Z');
        at.split('.').nth(1).map_or(0, str::len)
    };
    assert!(digits(&again) <= 6, "{again}");

    // Nothing was created or changed: one account, and only its own password opens it.
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(accounts, 1);
    assert_eq!(
        server
            .login("ada@example.com", other_password)
            .await
            .status(),
        401
    );
    assert_eq!(
        server.login("ada@example.com", PASSWORD).await.status(),
        200
    );

    // The owner is told, at the stored address, once an hour however often it happens.
    server.register("ada@example.com", PASSWORD).await;
    let notices: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT payload FROM jobs WHERE kind = 'account_exists_email'")
            .fetch_all(server.db())
            .await
            .unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["email"], "ada@example.com");
    assert_eq!(notices[0]["user_id"], first["id"]);
}

/// The service folds an address once (`email_key`) and the database compares the stored key.
/// Postgres's `lower()` folds one character at a time: a final capital sigma becomes σ, where
/// Unicode (and Rust) write ς. Such an address used to register and never log in.
#[tokio::test]
async fn an_address_the_database_would_fold_differently_logs_in_and_is_unique() {
    let (_env, server) = server().await;
    let email = "odysseus@example.ΟΔΥΣΣΕΥΣ";
    assert_eq!(server.register(email, PASSWORD).await.status(), 201);
    assert_eq!(server.login(email, PASSWORD).await.status(), 200);
    let other_case = "Odysseus@Example.οδυσσευς";
    assert_eq!(server.login(other_case, PASSWORD).await.status(), 200);
    // One account: registering the other case answers as for a new one and creates nothing.
    assert_eq!(server.register(other_case, PASSWORD).await.status(), 201);
    let stored: (String, String) = sqlx::query_as("SELECT email, email_key FROM users")
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(stored.0, email, "the address is kept as given");
    assert_eq!(stored.1, "odysseus@example.οδυσσευς");
}

#[tokio::test]
async fn bad_registrations_are_422_naming_each_field() {
    let (_env, server) = server().await;
    let cases = [
        (
            json!({"email": "a@example.com", "display_name": "A", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "display_name": "A", "password": "x".repeat(129)}),
            "password",
        ),
        (
            json!({"email": "not-an-email", "display_name": "A", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "display_name": "line\nbreak", "password": PASSWORD}),
            "display_name",
        ),
        (
            json!({"email": "a@example.com", "display_name": "", "password": PASSWORD}),
            "display_name",
        ),
        (
            json!({"email": "a@example.com", "display_name": "A", "password": PASSWORD, "role": "admin"}),
            "role",
        ),
        (
            json!({"email": 42, "display_name": "A", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD}),
            "body",
        ),
    ];
    for (body, field) in cases {
        let response = server.post("/auth/register", None, body.clone()).await;
        let problem = assert_problem(response, 422).await;
        assert_eq!(problem["code"], "validation_failed");
        let errors = problem["errors"].as_array().expect("field errors");
        assert!(
            errors.iter().any(|e| e["field"] == field),
            "{body} should name {field}: {problem}"
        );
    }
    // Nothing was stored by any of them.
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn malformed_wrongly_typed_and_oversized_bodies_get_400_415_413() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[("HTTP_BODY_LIMIT_BYTES", "4096")])).await;
    let url = server.url("/auth/login");
    let broken = server
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(broken, 400).await;
    let not_json = server
        .client
        .post(&url)
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_problem(not_json, 415).await;
    // A megabyte "password" is refused before anything reads, let alone hashes, it.
    let huge = json!({"email": "a@example.com", "password": "x".repeat(1 << 20)});
    let response = server.post("/auth/login", None, huge).await;
    assert_problem(response, 413).await;
}

#[tokio::test]
async fn login_returns_uncacheable_tokens_that_open_me() {
    let (_env, server) = server().await;
    server.register("ada@example.com", PASSWORD).await;
    let response = server.login("ADA@example.com", PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let access = body["access_token"].as_str().unwrap();
    let me = me(&server, access).await;
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(me["email"], "ada@example.com");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401() {
    let (_env, server) = server().await;
    server.register("ada@example.com", PASSWORD).await;
    let wrong = assert_problem(
        server.login("ada@example.com", "not the password!").await,
        401,
    )
    .await;
    let unknown = assert_problem(server.login("nobody@example.com", PASSWORD).await, 401).await;
    assert_eq!(wrong["detail"], unknown["detail"]);
    assert_eq!(wrong["code"], "unauthorized");
}

// ANCHOR: decoy_test
/// Unknown emails are checked against a decoy hash made with the same parameters, so they
/// cost what a wrong password costs: one Argon2 hash of the configured memory and passes.
/// Without the decoy they would cost no hashing at all and answer measurably faster. Counted,
/// not timed: a timing comparison flakes on a busy machine.
#[tokio::test]
async fn unknown_emails_cost_as_much_hashing_as_wrong_passwords() {
    let env = TestEnv::new().await;
    let config = env.config(&[]);
    let server = TestServer::start(&config).await;
    server.register("ada@example.com", PASSWORD).await;
    let passwords = &server.state().auth.passwords;
    let one_hash = u64::from(config.auth.hash_memory_kib) * u64::from(config.auth.hash_iterations);

    let before = passwords.work_done();
    let response = server.login("ada@example.com", "wrong password!").await;
    assert_eq!(response.status(), 401);
    let wrong = passwords.work_done() - before;

    let before = passwords.work_done();
    let response = server.login("ghost@example.com", "wrong password!").await;
    assert_eq!(response.status(), 401);
    let unknown = passwords.work_done() - before;

    assert_eq!(wrong, one_hash, "a wrong password costs one hash");
    assert_eq!(
        unknown, wrong,
        "an unknown email costs what a wrong password costs"
    );
}
// ANCHOR_END: decoy_test

/// An account whose hash names a retired pepper (not checked at all) or was made with cheaper
/// parameters must not answer a wrong password faster than a current one: that would tell a
/// stranger which accounts are old. The refusal costs at least one hash at today's settings.
#[tokio::test]
async fn stale_hashes_cost_as_much_hashing_as_current_ones() {
    let env = TestEnv::new().await;
    let config = env.config(&[]);
    let server = TestServer::start(&config).await;
    let passwords = &server.state().auth.passwords;
    let one_hash = u64::from(config.auth.hash_memory_kib) * u64::from(config.auth.hash_iterations);
    let refused_work = async |email: &str| {
        let before = passwords.work_done();
        let response = server.login(email, "wrong password!").await;
        assert_eq!(response.status(), 401);
        passwords.work_done() - before
    };

    // Hashed with a pepper that has since been retired from PASSWORD_PEPPERS.
    server.register("ada@example.com", PASSWORD).await;
    sqlx::query("UPDATE users SET pepper_id = 99 WHERE email = 'ada@example.com'")
        .execute(server.db())
        .await
        .unwrap();
    assert!(refused_work("ada@example.com").await >= one_hash);

    // Hashed by an instance with half the memory cost.
    let cheaper = env.config(&[("PASSWORD_HASH_MEMORY_KIB", "4096")]);
    let old = TestServer::start(&cheaper).await;
    old.register("bob@example.com", PASSWORD).await;
    assert!(refused_work("bob@example.com").await >= one_hash);
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_revokes_the_whole_family() {
    let (_env, server) = server().await;
    let first = server.signed_in("ada@example.com").await;
    let elsewhere = server.log_in("ada@example.com").await;
    let refresh = |token: String| {
        let server = &server;
        async move {
            server
                .post("/auth/refresh", None, json!({ "refresh_token": token }))
                .await
        }
    };
    let rotated = refresh(first.refresh.clone()).await;
    assert_eq!(rotated.status(), 200);
    let rotated: serde_json::Value = rotated.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first.refresh);
    assert_eq!(
        me(&server, rotated["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );

    // The first token is replayed (say, by a thief): refused, and the family is revoked...
    let replay = assert_problem(refresh(first.refresh.clone()).await, 401).await;
    assert!(
        replay["detail"].as_str().unwrap().contains("already used"),
        "{replay}"
    );
    // ...so the legitimate successor no longer works either, and neither does the access
    // token the rotation issued: whoever holds it, it ends with the family.
    assert_problem(refresh(second).await, 401).await;
    let issued = rotated["access_token"].as_str().unwrap();
    assert_problem(me(&server, issued).await, 401).await;
    // The account's other session loses its access token too, and gets a new one by
    // refreshing: its family was not the one replayed.
    assert_problem(me(&server, &elsewhere.access).await, 401).await;
    let renewed = refresh(elsewhere.refresh).await;
    assert_eq!(renewed.status(), 200);
    let renewed: serde_json::Value = renewed.json().await.unwrap();
    assert_eq!(
        me(&server, renewed["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );

    server.state().audit.flush().await;
    let reuses: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM security_events WHERE kind = 'refresh_token_reused'",
    )
    .fetch_one(server.db())
    .await
    .unwrap();
    assert_eq!(reuses, 1);
    // Another login is a family of its own and is unaffected.
    let other = server.log_in("ada@example.com").await;
    assert_eq!(refresh(other.refresh).await.status(), 200);
}

#[tokio::test]
async fn concurrent_uses_of_one_refresh_token_succeed_at_most_once() {
    let (_env, server) = server().await;
    let session = server.signed_in("ada@example.com").await;
    let attempts = (0..4).map(|_| {
        server.post(
            "/auth/refresh",
            None,
            json!({ "refresh_token": session.refresh }),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
}

/// Waits until `n` statements of this test's database are waiting for a lock.
async fn lock_waiters(server: &TestServer, n: i64) {
    common::eventually(&format!("{n} statements waiting for a lock"), async || {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(server.db())
        .await
        .unwrap();
        waiting == n
    })
    .await;
}

#[tokio::test]
async fn a_logout_during_a_rotation_also_revokes_the_successor() {
    let (_env, server) = server().await;
    let session = server.signed_in("ada@example.com").await;
    // Hold the token's row, so that the rotation stops on it with its transaction open, and
    // the logout arrives while the successor is not yet committed.
    let mut holder = server.db().begin().await.unwrap();
    sqlx::query("SELECT id FROM refresh_tokens FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let body = json!({ "refresh_token": session.refresh });
    let rotation = server.post("/auth/refresh", None, body.clone());
    let logout = async {
        lock_waiters(&server, 1).await;
        server
            .post("/auth/logout", Some(&session.access), body.clone())
            .await
    };
    let release = async {
        lock_waiters(&server, 2).await;
        holder.commit().await.unwrap();
    };
    let (rotated, logged_out, ()) = tokio::join!(rotation, logout, release);
    assert_eq!(rotated.status(), 200);
    assert_eq!(logged_out.status(), 204);
    // The rotation finished first, but the family it extended is revoked all the same.
    let successor: serde_json::Value = rotated.json().await.unwrap();
    let refresh = server
        .post(
            "/auth/refresh",
            None,
            json!({ "refresh_token": successor["refresh_token"] }),
        )
        .await;
    assert_problem(refresh, 401).await;
}

#[tokio::test]
async fn a_login_ends_at_its_familys_maximum_age_however_often_it_refreshes() {
    let (_env, server) = server().await;
    let session = server.signed_in("ada@example.com").await;
    let refresh = async |token: &str| {
        server
            .post("/auth/refresh", None, json!({ "refresh_token": token }))
            .await
    };
    // The login was almost 90 days ago (REFRESH_FAMILY_MAX_AGE_SECS' default): the successor
    // lives for what is left of them, not for a fresh REFRESH_TOKEN_TTL_SECS.
    sqlx::query(
        "UPDATE refresh_tokens
         SET family_started_at = now() - interval '90 days' + interval '1 hour'",
    )
    .execute(server.db())
    .await
    .unwrap();
    let rotated = refresh(&session.refresh).await;
    assert_eq!(rotated.status(), 200);
    let rotated: serde_json::Value = rotated.json().await.unwrap();
    let left = rotated["refresh_expires_in"].as_i64().unwrap();
    assert!((3500..=3600).contains(&left), "{left}");
    let (inherited, expires_at): (bool, bool) = sqlx::query_as(
        "SELECT family_started_at < now() - interval '89 days',
                expires_at <= family_started_at + interval '90 days'
         FROM refresh_tokens WHERE used_at IS NULL",
    )
    .fetch_one(server.db())
    .await
    .unwrap();
    assert!(
        inherited && expires_at,
        "the successor keeps the family's start and end"
    );

    // Past the maximum age, the family's live token is refused like a revoked one.
    sqlx::query("UPDATE refresh_tokens SET family_started_at = now() - interval '91 days'")
        .execute(server.db())
        .await
        .unwrap();
    let next = rotated["refresh_token"].as_str().unwrap();
    assert_problem(refresh(next).await, 401).await;
    // A new login is a new family.
    let fresh = server.log_in("ada@example.com").await;
    assert_eq!(refresh(&fresh.refresh).await.status(), 200);
}

#[tokio::test]
async fn garbage_refresh_tokens_are_401() {
    let (_env, server) = server().await;
    let response = server
        .post(
            "/auth/refresh",
            None,
            json!({ "refresh_token": "not-a-token" }),
        )
        .await;
    assert_problem(response, 401).await;
}

#[tokio::test]
async fn logout_revokes_the_access_token_and_the_refresh_family() {
    let (_env, server) = server().await;
    let session = server.signed_in("ada@example.com").await;
    let other = server.log_in("ada@example.com").await;
    let out = server
        .post(
            "/auth/logout",
            Some(&session.access),
            json!({ "refresh_token": session.refresh }),
        )
        .await;
    assert_eq!(out.status(), 204);
    let body = assert_problem(me(&server, &session.access).await, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    let refresh = server
        .post(
            "/auth/refresh",
            None,
            json!({ "refresh_token": session.refresh }),
        )
        .await;
    assert_problem(refresh, 401).await;
    // The other device's session is untouched.
    assert_eq!(me(&server, &other.access).await.status(), 200);
}

#[tokio::test]
async fn logout_everywhere_ends_every_session() {
    let (_env, server) = server().await;
    let phone = server.signed_in("ada@example.com").await;
    let laptop = server.log_in("ada@example.com").await;
    let out = server
        .call(Method::POST, "/auth/logout-all", &phone.access, None)
        .await;
    assert_eq!(out.status(), 204);
    for session in [&phone, &laptop] {
        assert_problem(me(&server, &session.access).await, 401).await;
        let refresh = server
            .post(
                "/auth/refresh",
                None,
                json!({ "refresh_token": session.refresh }),
            )
            .await;
        assert_problem(refresh, 401).await;
    }
    // Logging in again works.
    let again = server.log_in("ada@example.com").await;
    assert_eq!(me(&server, &again.access).await.status(), 200);
}

fn claims(sub: &str) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": sub, "iss": "task-svc-placeholder", "aud": "task-svc-placeholder",
        "iat": now, "exp": now + 600, "jti": uuid::Uuid::now_v7(), "sep": 0,
    })
}

fn sign(claims: &serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Expired, tampered, unsigned (`alg: none`), wrongly addressed or incomplete tokens are
/// all 401, and a valid forgery needs the secret.
#[tokio::test]
async fn every_kind_of_bad_access_token_is_401() {
    let (_env, server) = server().await;
    let session = server.signed_in("ada@example.com").await;
    // Read the real claims to forge variants of them.
    let payload = session.access.split('.').nth(1).unwrap();
    let real: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let sub = real["sub"].as_str().unwrap();
    let mut good = claims(sub);
    good["iss"] = real["iss"].clone();
    good["aud"] = real["aud"].clone();
    // Sanity: a token forged with the right secret and claims passes, so the cases below fail
    // for the reason they name.
    assert_eq!(me(&server, &sign(&good, SECRET)).await.status(), 200);

    let mut expired = good.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("evil-issuer");
    let mut no_sub = good.clone();
    no_sub.as_object_mut().unwrap().remove("sub");
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let mut tampered = session.access.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let hs512 = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS512),
        &good,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();

    let cases = [
        ("expired", sign(&expired, SECRET)),
        ("wrong aud", sign(&wrong_aud, SECRET)),
        ("wrong iss", sign(&wrong_iss, SECRET)),
        ("no sub", sign(&no_sub, SECRET)),
        (
            "other secret",
            sign(&good, "another-secret-another-secret-0123456"),
        ),
        ("alg none", unsigned),
        ("alg HS512", hs512),
        ("tampered", tampered),
        ("not a jwt", "hello".to_owned()),
    ];
    for (case, token) in cases {
        let response = me(&server, &token).await;
        assert_eq!(response.status(), 401, "{case}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{case}");
        assert_problem(response, 401).await;
    }
    let no_header = server.get("/me").await;
    assert_problem(no_header, 401).await;
}

/// A new pepper (and new cost parameters) applies to new hashes at once and to existing ones
/// at their owner's next login; once every hash is upgraded the old pepper can go.
#[tokio::test]
async fn pepper_rotation_rehashes_at_the_next_login() {
    let env = TestEnv::new().await;
    let stored = |server: &TestServer| {
        let db = server.db().clone();
        async move {
            sqlx::query_as::<_, (i16, String)>("SELECT pepper_id, password_hash FROM users")
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let old =
        TestServer::start(&env.config(&[("PASSWORD_PEPPERS", "1=the-first-pepper-123")])).await;
    server_registers(&old).await;
    let (pepper, hash) = stored(&old).await;
    assert_eq!(pepper, 1);
    assert!(hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{hash}");
    old.shutdown().await.unwrap();

    let rotated = TestServer::start(&env.config(&[
        (
            "PASSWORD_PEPPERS",
            "1=the-first-pepper-123,2=the-second-pepper-45",
        ),
        ("PASSWORD_HASH_ITERATIONS", "2"),
    ]))
    .await;
    assert_eq!(
        rotated.login("ada@example.com", PASSWORD).await.status(),
        200
    );
    let (pepper, hash) = stored(&rotated).await;
    assert_eq!(pepper, 2, "re-hashed with the current pepper");
    assert!(hash.starts_with("$argon2id$v=19$m=8192,t=2,p=1$"), "{hash}");
    rotated.shutdown().await.unwrap();

    let retired = TestServer::start(&env.config(&[
        ("PASSWORD_PEPPERS", "2=the-second-pepper-45"),
        ("PASSWORD_HASH_ITERATIONS", "2"),
    ]))
    .await;
    assert_eq!(
        retired.login("ada@example.com", PASSWORD).await.status(),
        200
    );
    assert_eq!(
        retired
            .login("ada@example.com", "wrong password!")
            .await
            .status(),
        401
    );
}

async fn server_registers(server: &TestServer) {
    assert_eq!(
        server.register("ada@example.com", PASSWORD).await.status(),
        201
    );
}
