//! The account's owner at work, through the real router, Postgres and the job worker, with a
//! mailer that records what it would send: forgotten and changed passwords (reset tokens are
//! single-use, expire, are stored only hashed, and the forgot route tells nobody whether an
//! address has an account), verifying an address (at registration and for an email change;
//! the same rules for its tokens), the display name, and deleting the account.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{PASSWORD, TestEnv, TestServer, assert_problem, eventually};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use task_svc::app::mail::Email;
use task_svc::app::mail::MailError;
use task_svc::app::mail::Mailer;
use task_svc::app::memory::Memory;
use task_svc::app::password_reset::RESET_EMAIL_WINDOW_SECS;
use task_svc::app::passwords::StoredHash;
use task_svc::app::sessions::NewResetToken;
use task_svc::app::sessions::SessionRepository;
use task_svc::app::users::NewUser;
use task_svc::app::users::UserChange;
use task_svc::app::users::UserRepository;
use task_svc::app::verification::NewVerification;
use task_svc::app::verification::Purpose;
use task_svc::app::verification::VERIFICATION_EMAIL_WINDOW_SECS;
use task_svc::domain::user::Role;
use task_svc::error::AppError;
use task_svc::infra::sessions::PgSessionRepository;
use task_svc::infra::users::PgUserRepository;
use task_svc::startup::Application;

const NEW_PASSWORD: &str = "a brand new passphrase";

/// Keeps every email instead of sending it.
#[derive(Default)]
struct Inbox(Mutex<Vec<Email>>);

#[async_trait]
impl Mailer for Inbox {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        self.0.lock().unwrap().push(email.clone());
        Ok(())
    }
}

impl Inbox {
    fn to(&self, address: &str) -> Vec<Email> {
        let sent = self.0.lock().unwrap();
        sent.iter().filter(|e| e.to == address).cloned().collect()
    }

    /// The reset token in the newest reset email to `address`.
    fn reset_token(&self, address: &str) -> String {
        self.token(address, "Reset your password")
    }

    /// The token in the newest email to `address` whose subject starts with `subject`: the
    /// body's one line of 43 base64url characters.
    fn token(&self, address: &str, subject: &str) -> String {
        let emails = self.to(address);
        let email = emails
            .iter()
            .rev()
            .find(|e| e.subject.starts_with(subject))
            .unwrap_or_else(|| panic!("an email {subject:?} to {address}"));
        let token = email
            .body
            .lines()
            .find(|line| {
                line.len() == 43
                    && line
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .expect("the token line");
        token.to_owned()
    }
}

async fn serve(env: &TestEnv, extra: &[(&str, &str)], inbox: &Arc<Inbox>) -> TestServer {
    let mut vars = vec![("JOBS_POLL_INTERVAL_MS", "50")];
    vars.extend_from_slice(extra);
    let app = Application::build(env.config(&vars))
        .await
        .expect("the app starts")
        .with_mailer(inbox.clone());
    TestServer::run(app).await
}

/// Asks for a reset email for `email` and waits until every job has run.
async fn forgot(server: &TestServer, email: &str) -> reqwest::Response {
    let response = server
        .post("/auth/password/forgot", None, json!({ "email": email }))
        .await;
    all_jobs_done(server).await;
    response
}

async fn all_jobs_done(server: &TestServer) {
    eventually("every job has run", async || {
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status <> 'done'")
            .fetch_one(server.db())
            .await
            .unwrap();
        pending == 0
    })
    .await;
}

async fn reset(server: &TestServer, token: &str, password: &str) -> reqwest::Response {
    server
        .post(
            "/auth/password/reset",
            None,
            json!({ "token": token, "password": password }),
        )
        .await
}

async fn change(server: &TestServer, access: &str, current: &str, new: &str) -> reqwest::Response {
    server
        .post(
            "/me/password",
            Some(access),
            json!({ "current_password": current, "new_password": new }),
        )
        .await
}

async fn me(server: &TestServer, access: &str) -> u16 {
    server
        .call(Method::GET, "/me", access, None)
        .await
        .status()
        .as_u16()
}

async fn refresh(server: &TestServer, token: &str) -> u16 {
    server
        .post("/auth/refresh", None, json!({ "refresh_token": token }))
        .await
        .status()
        .as_u16()
}

/// Waits for the audit log's writer to store an event of `kind`.
async fn audited(server: &TestServer, kind: &str) {
    eventually(kind, async || {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind = $1")
            .bind(kind)
            .fetch_one(server.db())
            .await
            .unwrap();
        count > 0
    })
    .await;
}

// ANCHOR: forgot_test
#[tokio::test]
async fn forgot_answers_alike_for_every_address_and_mails_a_hashed_token_only_to_an_account() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    server.signed_in("ada@example.com").await;

    let window = || {
        chrono::Utc::now()
            .timestamp()
            .div_euclid(RESET_EMAIL_WINDOW_SECS)
    };
    let first_window = window();
    let known = forgot(&server, "Ada@Example.com").await;
    let unknown = forgot(&server, "nobody@example.com").await;
    for response in [known, unknown] {
        assert_eq!(response.status(), 202);
        assert_eq!(response.text().await.unwrap(), "", "no body either way");
    }
    assert!(
        inbox.to("nobody@example.com").is_empty(),
        "no account, no email"
    );
    let token = inbox.reset_token("ada@example.com");

    // Asked again in the same window: still one email.
    assert_eq!(forgot(&server, "ada@example.com").await.status(), 202);
    let resets = inbox
        .to("ada@example.com")
        .into_iter()
        .filter(|e| e.subject.starts_with("Reset your password"))
        .count();
    // (Unless the clock crossed into the next window meanwhile: then a second is right.)
    if window() == first_window {
        assert_eq!(resets, 1, "one reset email per address per window");
    }

    // Stored as its SHA-256 only, and nowhere in the job's row.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM password_resets")
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(stored, Sha256::digest(token.as_bytes()).to_vec());
    let jobs: Vec<Value> = sqlx::query_scalar("SELECT payload FROM jobs")
        .fetch_all(server.db())
        .await
        .unwrap();
    assert!(
        jobs.iter()
            .all(|payload| !payload.to_string().contains(&token)),
        "the token is in no job: {jobs:?}"
    );
    audited(&server, "password_reset_requested").await;
}
// ANCHOR_END: forgot_test

// ANCHOR: reset_test
#[tokio::test]
async fn a_reset_token_sets_the_password_once_and_ends_every_session() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    let old = server.signed_in("ada@example.com").await;
    forgot(&server, "ada@example.com").await;
    let token = inbox.reset_token("ada@example.com");

    assert_eq!(reset(&server, &token, NEW_PASSWORD).await.status(), 204);
    assert_eq!(
        me(&server, &old.access).await,
        401,
        "the access token ended"
    );
    assert_eq!(
        refresh(&server, &old.refresh).await,
        401,
        "the refresh token ended"
    );
    assert_eq!(
        server.login("ada@example.com", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        server.login("ada@example.com", NEW_PASSWORD).await.status(),
        200
    );
    audited(&server, "password_reset").await;

    // Single use.
    let again = reset(&server, &token, "yet another passphrase").await;
    assert_problem(again, 401).await;
    assert_eq!(
        server.login("ada@example.com", NEW_PASSWORD).await.status(),
        200
    );
}
// ANCHOR_END: reset_test

#[tokio::test]
async fn an_expired_or_unknown_reset_token_changes_nothing_and_is_used_up() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    let session = server.signed_in("ada@example.com").await;
    forgot(&server, "ada@example.com").await;
    let token = inbox.reset_token("ada@example.com");
    sqlx::query("UPDATE password_resets SET expires_at = now() - interval '1 second'")
        .execute(server.db())
        .await
        .unwrap();

    assert_problem(reset(&server, &token, NEW_PASSWORD).await, 401).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM password_resets")
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(left, 0, "a dead token is deleted when presented");
    let unknown = reset(&server, "A".repeat(43).as_str(), NEW_PASSWORD).await;
    assert_problem(unknown, 401).await;
    assert_eq!(me(&server, &session.access).await, 200, "nothing ended");
    assert_eq!(
        server.login("ada@example.com", PASSWORD).await.status(),
        200
    );
    audited(&server, "password_reset_failed").await;
}

#[tokio::test]
async fn bad_password_requests_get_a_clear_error_and_change_nothing() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    let session = server.signed_in("ada@example.com").await;

    let not_an_email = forgot(&server, "not an email").await;
    assert_problem(not_an_email, 422).await;
    let unknown_field = server
        .post(
            "/auth/password/forgot",
            None,
            json!({ "email": "ada@example.com", "admin": true }),
        )
        .await;
    assert_problem(unknown_field, 422).await;
    assert_problem(reset(&server, "", NEW_PASSWORD).await, 422).await;
    assert_problem(reset(&server, &"A".repeat(257), NEW_PASSWORD).await, 422).await;
    assert_problem(reset(&server, &"A".repeat(43), "short").await, 422).await;
    let too_short = change(&server, &session.access, PASSWORD, "short").await;
    assert_problem(too_short, 422).await;
    let anonymous = server
        .post(
            "/me/password",
            None,
            json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_problem(anonymous, 401).await;
    assert_eq!(
        server.login("ada@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn the_password_routes_are_rate_limited_per_address() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let limits = [
        ("AUTH_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTH_RATE_LIMIT_BURST", "2"),
    ];
    let server = serve(&env, &limits, &inbox).await;
    for n in 0..2 {
        let email = format!("someone{n}@example.com");
        assert_eq!(forgot(&server, &email).await.status(), 202);
    }
    let spent = forgot(&server, "someone9@example.com").await;
    assert!(spent.headers().contains_key("retry-after"));
    assert_problem(spent, 429).await;
    // Reset shares the budget: guessing tokens is as slow.
    assert_problem(reset(&server, &"A".repeat(43), NEW_PASSWORD).await, 429).await;
}

// ANCHOR: change_test
#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_leaves_only_the_new_session() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    let here = server.signed_in("ada@example.com").await;
    let elsewhere = server.log_in("ada@example.com").await;
    forgot(&server, "ada@example.com").await;
    let token = inbox.reset_token("ada@example.com");

    let wrong = change(&server, &here.access, "not my password", NEW_PASSWORD).await;
    assert_problem(wrong, 403).await;
    assert_eq!(me(&server, &elsewhere.access).await, 200, "nothing ended");
    audited(&server, "password_change_failed").await;

    let changed = change(&server, &here.access, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status(), 200);
    assert_eq!(changed.headers()["cache-control"], "no-store");
    let session: Value = changed.json().await.unwrap();
    let access = session["access_token"].as_str().unwrap();
    assert_eq!(me(&server, access).await, 200, "the new session works");
    let new_refresh = session["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&server, new_refresh).await, 200);
    for old in [&here, &elsewhere] {
        assert_eq!(me(&server, &old.access).await, 401);
        assert_eq!(refresh(&server, &old.refresh).await, 401);
    }
    assert_eq!(
        server.login("ada@example.com", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        server.login("ada@example.com", NEW_PASSWORD).await.status(),
        200
    );
    audited(&server, "password_changed").await;

    // A reset email sent before the change cannot undo it.
    assert_problem(reset(&server, &token, "the attacker's choice").await, 401).await;
    assert_eq!(
        server.login("ada@example.com", NEW_PASSWORD).await.status(),
        200
    );
}
// ANCHOR_END: change_test

#[tokio::test]
async fn the_owner_renames_the_account_and_bad_names_are_422() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    let session = server.signed_in("ada@example.com").await;
    let rename = async |body: Value, token: Option<&str>| {
        let mut request = server.client.patch(server.url("/me")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    };

    let renamed = rename(
        json!({ "display_name": "  Ada L.  " }),
        Some(&session.access),
    )
    .await;
    assert_eq!(renamed.status(), 200);
    let body: Value = renamed.json().await.unwrap();
    assert_eq!(body["display_name"], "Ada L.", "stored trimmed");
    let me: Value = server
        .call(Method::GET, "/me", &session.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Ada L.");

    for bad in [
        json!({}),
        json!({ "display_name": null }),
        json!({ "display_name": "two\nlines" }),
        json!({ "display_name": "   " }),
        json!({ "display_name": "x".repeat(101) }),
        json!({ "display_name": "Ada", "email": "eve@example.com" }),
    ] {
        assert_problem(rename(bad, Some(&session.access)).await, 422).await;
    }
    assert_problem(rename(json!({ "display_name": "Eve" }), None).await, 401).await;
    let me: Value = server
        .call(Method::GET, "/me", &session.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "Ada L.", "nothing changed");
    audited(&server, "display_name_changed").await;
}

// ANCHOR: delete_test
#[tokio::test]
async fn deleting_the_account_needs_the_password_and_takes_everything_with_it() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    let session = server.signed_in("ada@example.com").await;
    let other = server.log_in("ada@example.com").await;
    let created = server
        .post("/tasks", Some(&session.access), json!({ "title": "Mine" }))
        .await;
    assert_eq!(created.status(), 201);
    forgot(&server, "ada@example.com").await;
    let delete = async |password: &str| {
        server
            .call(
                Method::DELETE,
                "/me",
                &session.access,
                Some(json!({ "password": password })),
            )
            .await
    };

    assert_problem(delete("not my password").await, 403).await;
    assert_eq!(me(&server, &session.access).await, 200, "nothing deleted");
    audited(&server, "account_deletion_failed").await;

    assert_eq!(delete(PASSWORD).await.status(), 204);
    assert_eq!(me(&server, &session.access).await, 401);
    assert_eq!(me(&server, &other.access).await, 401);
    assert_eq!(refresh(&server, &other.refresh).await, 401);
    assert_eq!(
        server.login("ada@example.com", PASSWORD).await.status(),
        401
    );
    let left: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM tasks),
                (SELECT count(*) FROM refresh_tokens), (SELECT count(*) FROM password_resets)",
    )
    .fetch_one(server.db())
    .await
    .unwrap();
    assert_eq!(
        left,
        (0, 0, 0, 0),
        "accounts, tasks, refresh and reset tokens"
    );
    audited(&server, "account_deleted").await;

    // The address is free again: a new registration creates a new account.
    server.signed_in("ada@example.com").await;
}
// ANCHOR_END: delete_test

/// What every session store must do with reset tokens, whichever implements it: one token per
/// account (a new one replaces it), used once, dead once expired or once the password changes,
/// and none for a disabled account.
async fn reset_tokens_keep_their_rules(
    users: &dyn UserRepository,
    sessions: &dyn SessionRepository,
) {
    let hash = |phc: &str| StoredHash {
        phc: phc.to_owned(),
        pepper_id: 1,
    };
    let ada = users
        .create(
            NewUser {
                id: uuid::Uuid::now_v7(),
                email: "ada@example.com".into(),
                display_name: "Ada".into(),
                password: hash("old"),
                role: Role::User,
            },
            &[],
        )
        .await
        .unwrap();
    let token = |n: u8| NewResetToken {
        user_id: ada.id,
        hash: vec![n; 32],
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(30),
    };
    assert!(sessions.store_reset_token(token(1)).await.unwrap());
    assert!(sessions.store_reset_token(token(2)).await.unwrap());
    assert_eq!(
        sessions.reset_password(&[1; 32], hash("x")).await.unwrap(),
        None,
        "a replaced token is dead"
    );
    assert_eq!(
        sessions
            .reset_password(&[2; 32], hash("new"))
            .await
            .unwrap(),
        Some(ada.id)
    );
    assert_eq!(
        sessions.reset_password(&[2; 32], hash("x")).await.unwrap(),
        None,
        "used once"
    );
    let stored = users.credentials("ada@example.com").await.unwrap().unwrap();
    assert_eq!(stored.password.phc, "new");
    assert_eq!(stored.session_epoch, 1, "every session ended");

    let expired = NewResetToken {
        expires_at: chrono::Utc::now() - chrono::Duration::seconds(1),
        ..token(3)
    };
    assert!(sessions.store_reset_token(expired).await.unwrap());
    assert_eq!(
        sessions.reset_password(&[3; 32], hash("x")).await.unwrap(),
        None
    );
    assert!(sessions.store_reset_token(token(3)).await.unwrap());
    assert_eq!(
        sessions
            .change_password(ada.id, hash("changed"))
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        sessions.reset_password(&[3; 32], hash("x")).await.unwrap(),
        None,
        "a change drops the outstanding token"
    );

    let disable = UserChange {
        role: None,
        disabled: Some(true),
    };
    users.update(ada.id, &disable).await.unwrap();
    assert!(
        !sessions.store_reset_token(token(4)).await.unwrap(),
        "disabled"
    );
    assert_eq!(
        sessions.change_password(ada.id, hash("x")).await.unwrap(),
        None
    );
    let stored = users.credentials("ada@example.com").await.unwrap().unwrap();
    assert_eq!(
        stored.password.phc, "changed",
        "nothing changed while disabled"
    );
}

#[tokio::test]
async fn reset_tokens_keep_their_rules_in_either_store() {
    let memory = Memory::new();
    reset_tokens_keep_their_rules(&memory, &memory).await;
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[("JOBS_WORKER", "false")], &inbox).await;
    let db = server.db().clone();
    reset_tokens_keep_their_rules(&PgUserRepository(db.clone()), &PgSessionRepository(db)).await;
}

/// A reset and a change of one account's password at the same moment: each waits for the
/// other (the account's row is locked first by both), and neither fails.
#[tokio::test]
async fn a_reset_and_a_change_at_the_same_moment_both_complete() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let plenty = [
        ("AUTH_RATE_LIMIT_PER_MINUTE", "1000"),
        ("AUTH_RATE_LIMIT_BURST", "1000"),
    ];
    let server = serve(&env, &plenty, &inbox).await;
    let session = server.signed_in("ada@example.com").await;
    let account: Value = server
        .call(Method::GET, "/me", &session.access, None)
        .await
        .json()
        .await
        .unwrap();
    let user_id: uuid::Uuid = account["id"].as_str().unwrap().parse().unwrap();
    let mut current = PASSWORD.to_owned();
    for round in 0..6 {
        let token = format!("{round:A>43}");
        let stored = server
            .state()
            .auth
            .sessions
            .store_reset_token(NewResetToken {
                user_id,
                hash: Sha256::digest(token.as_bytes()).to_vec(),
                expires_at: chrono::Utc::now() + chrono::Duration::minutes(30),
            })
            .await
            .unwrap();
        assert!(stored);
        let login = server.login("ada@example.com", &current).await;
        assert_eq!(login.status(), 200, "round {round}");
        let login: Value = login.json().await.unwrap();
        let access = login["access_token"].as_str().unwrap();
        let (by_reset, by_change) = (
            format!("reset in round {round}"),
            format!("change in round {round}"),
        );
        let (reset, change) = tokio::join!(
            reset(&server, &token, &by_reset),
            change(&server, access, &current, &by_change)
        );
        let outcome = (reset.status().as_u16(), change.status().as_u16());
        assert!(
            matches!(outcome, (204, 200 | 401 | 403) | (401, 200)),
            "round {round}: reset and change answered {outcome:?}"
        );
        let mut works = Vec::new();
        for candidate in [by_reset, by_change] {
            if server.login("ada@example.com", &candidate).await.status() == 200 {
                works.push(candidate);
            }
        }
        assert_eq!(works.len(), 1, "round {round}: exactly one password works");
        current = works.remove(0);
    }
}

async fn verify(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .post("/auth/verify-email", None, json!({ "token": token }))
        .await
}

async fn me_json(server: &TestServer, access: &str) -> Value {
    server
        .call(Method::GET, "/me", access, None)
        .await
        .json()
        .await
        .unwrap()
}

// ANCHOR: verify_test
#[tokio::test]
async fn the_welcome_email_carries_a_hashed_token_that_verifies_the_address_once() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    let session = server.signed_in("ada@example.com").await;
    all_jobs_done(&server).await;
    assert_eq!(
        me_json(&server, &session.access).await["email_verified"],
        false
    );

    let token = inbox.token("ada@example.com", "Welcome to");
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM email_verifications")
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(
        stored,
        Sha256::digest(token.as_bytes()).to_vec(),
        "only the hash"
    );
    let in_jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE payload::text LIKE $1")
        .bind(format!("%{token}%"))
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(in_jobs, 0, "the token is in the email only");

    let verified = verify(&server, &token).await;
    assert_eq!(verified.status(), 200);
    let body: Value = verified.json().await.unwrap();
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["email_verified"], true);
    assert_eq!(
        me_json(&server, &session.access).await["email_verified"],
        true
    );
    assert_problem(verify(&server, &token).await, 401).await;
    audited(&server, "email_verified").await;
    audited(&server, "email_verification_failed").await;

    // Verified: asking for another email is a conflict, not a silent no-op.
    let again = server
        .call(
            Method::POST,
            "/me/verification-email",
            &session.access,
            None,
        )
        .await;
    assert_problem(again, 409).await;
}
// ANCHOR_END: verify_test

#[tokio::test]
async fn bad_unknown_or_expired_verification_tokens_change_nothing() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    let session = server.signed_in("ada@example.com").await;
    all_jobs_done(&server).await;
    let token = inbox.token("ada@example.com", "Welcome to");

    for bad in [
        json!({}),
        json!({ "token": null }),
        json!({ "token": "" }),
        json!({ "token": "A".repeat(257) }),
        json!({ "token": token, "email": "eve@example.com" }),
    ] {
        let response = server.post("/auth/verify-email", None, bad).await;
        assert_problem(response, 422).await;
    }
    assert_problem(verify(&server, &"A".repeat(43)).await, 401).await;

    sqlx::query("UPDATE email_verifications SET expires_at = now() - interval '1 second'")
        .execute(server.db())
        .await
        .unwrap();
    assert_problem(verify(&server, &token).await, 401).await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM email_verifications")
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(left, 0, "an expired token is used up too");
    assert_eq!(
        me_json(&server, &session.access).await["email_verified"],
        false
    );

    let unauthenticated = server
        .post("/me/verification-email", None, json!(null))
        .await;
    assert_problem(unauthenticated, 401).await;
}

#[tokio::test]
async fn a_new_verification_email_replaces_the_token_and_is_rate_limited() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let limits = [
        ("AUTH_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTH_RATE_LIMIT_BURST", "2"),
    ];
    let server = serve(&env, &limits, &inbox).await;
    let session = server.signed_in("ada@example.com").await;
    all_jobs_done(&server).await;
    let first = inbox.token("ada@example.com", "Welcome to");

    let resend = async || {
        server
            .call(
                Method::POST,
                "/me/verification-email",
                &session.access,
                None,
            )
            .await
    };
    let window = || {
        chrono::Utc::now()
            .timestamp()
            .div_euclid(VERIFICATION_EMAIL_WINDOW_SECS)
    };
    let first_window = window();
    assert_eq!(resend().await.status(), 202);
    all_jobs_done(&server).await;
    let second = inbox.token("ada@example.com", "Verify your address");
    assert_ne!(first, second);
    assert_eq!(resend().await.status(), 202);
    all_jobs_done(&server).await;
    // (Unless the clock crossed into the next window meanwhile: then a third is right.)
    if window() == first_window {
        let sent = inbox.to("ada@example.com").len();
        assert_eq!(sent, 2, "the welcome email and one new one per window");
    }
    let second = inbox.token("ada@example.com", "Verify your address");
    let spent = resend().await;
    assert!(spent.headers().contains_key("retry-after"));
    assert_problem(spent, 429).await;

    // Verifying hashes no password and has no budget of its own: the spent one does not
    // stop it.
    assert_problem(verify(&server, &first).await, 401).await;
    assert_eq!(verify(&server, &second).await.status(), 200);
}

// ANCHOR: change_email_test
#[tokio::test]
async fn a_new_address_needs_the_password_and_takes_effect_when_verified() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    let session = server.signed_in("ada@example.com").await;
    server.signed_in("bob@example.com").await;
    // No waiting for the welcome emails: sent after the change was asked for, they could not
    // replace its token (they are older requests).
    let change = async |body: Value| server.post("/me/email", Some(&session.access), body).await;

    for bad in [
        json!({ "email": "ada@new.example" }),
        json!({ "email": "not an address", "current_password": PASSWORD }),
        json!({ "email": "ada@new.example", "current_password": PASSWORD, "role": "admin" }),
    ] {
        assert_problem(change(bad).await, 422).await;
    }
    let wrong = change(json!({ "email": "ada@new.example", "current_password": "not it at all" }));
    assert_problem(wrong.await, 403).await;
    let anonymous = server
        .post(
            "/me/email",
            None,
            json!({ "email": "ada@new.example", "current_password": PASSWORD }),
        )
        .await;
    assert_problem(anonymous, 401).await;

    let asked = change(json!({ "email": "ada@new.example", "current_password": PASSWORD })).await;
    assert_eq!(asked.status(), 202);
    all_jobs_done(&server).await;
    audited(&server, "email_change_requested").await;
    let token = inbox.token("ada@new.example", "Verify your address");
    assert_eq!(
        me_json(&server, &session.access).await["email"],
        "ada@example.com",
        "not yet"
    );

    // Someone else's address: the request looks the same, and the verification is refused.
    let taken = change(json!({ "email": "BOB@example.com", "current_password": PASSWORD })).await;
    assert_eq!(taken.status(), 202);
    all_jobs_done(&server).await;
    let bobs = inbox.token("BOB@example.com", "Verify your address");
    assert_problem(verify(&server, &bobs).await, 409).await;
    assert_problem(verify(&server, &token).await, 401).await;

    // A reset email to the old address stops working when the account moves.
    assert_eq!(forgot(&server, "ada@example.com").await.status(), 202);
    let reset_token = inbox.reset_token("ada@example.com");
    let asked = change(json!({ "email": "ada@new.example", "current_password": PASSWORD })).await;
    assert_eq!(asked.status(), 202);
    all_jobs_done(&server).await;
    let token = inbox.token("ada@new.example", "Verify your address");
    let verified: Value = verify(&server, &token).await.json().await.unwrap();
    assert_eq!(verified["email"], "ada@new.example");
    assert_eq!(verified["email_verified"], true);
    assert_problem(reset(&server, &reset_token, NEW_PASSWORD).await, 401).await;
    assert_eq!(
        server.login("ada@new.example", PASSWORD).await.status(),
        200
    );
    assert_problem(server.login("ada@example.com", PASSWORD).await, 401).await;
}
// ANCHOR_END: change_email_test

#[tokio::test]
async fn an_address_another_account_took_meanwhile_is_409() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    let session = server.signed_in("ada@example.com").await;
    all_jobs_done(&server).await;
    let body = json!({ "email": "cy@example.com", "current_password": PASSWORD });
    let asked = server.post("/me/email", Some(&session.access), body).await;
    assert_eq!(asked.status(), 202);
    all_jobs_done(&server).await;
    let token = inbox.token("cy@example.com", "Verify your address");
    server.signed_in("Cy@example.com").await;

    assert_problem(verify(&server, &token).await, 409).await;
    let me = me_json(&server, &session.access).await;
    assert_eq!(me["email"], "ada@example.com", "nothing changed");
}

#[tokio::test]
async fn a_password_reset_verifies_the_address() {
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[], &inbox).await;
    server.signed_in("ada@example.com").await;
    assert_eq!(forgot(&server, "ada@example.com").await.status(), 202);
    let token = inbox.reset_token("ada@example.com");
    assert_eq!(reset(&server, &token, NEW_PASSWORD).await.status(), 204);
    let session = server.login("ada@example.com", NEW_PASSWORD).await;
    let access = session.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(me_json(&server, &access).await["email_verified"], true);
}

/// What every account store must do with verifications, whichever implements it: one per
/// account (a newer request replaces it, an older one never does), used once, dead once
/// expired, none for a disabled account, none for an address the account has left; and the
/// purge takes unverified accounts older than its bound, never verified ones or admins.
async fn verifications_keep_their_rules(users: &dyn UserRepository) {
    let create = async |email: &str, role: Role| {
        let user = NewUser {
            id: uuid::Uuid::now_v7(),
            email: email.into(),
            display_name: "Someone".into(),
            password: StoredHash {
                phc: "x".into(),
                pepper_id: 1,
            },
            role,
        };
        users.create(user, &[]).await.unwrap()
    };
    let ada = create("ada@example.com", Role::User).await;
    let bob = create("bob@example.com", Role::User).await;
    let root = create("root@example.com", Role::Admin).await;
    assert!(!ada.email_verified);
    // Token `n` asked for `n` minutes after `start`: up to 19 before the first verification
    // below, from 20 on after it.
    let start = chrono::Utc::now() - chrono::Duration::minutes(20);
    let verification = |n: u8, email: &str, purpose: Purpose| NewVerification {
        user_id: ada.id,
        email: email.into(),
        hash: vec![n; 32],
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        requested_at: start + chrono::Duration::minutes(n.into()),
        purpose,
    };
    let store = async |v: NewVerification| users.store_verification(v).await.unwrap();
    let own = |n: u8| verification(n, "ada@example.com", Purpose::Own);
    let change = |n: u8, email: &str| verification(n, email, Purpose::Change);

    assert!(store(own(2)).await);
    assert!(!store(own(1)).await, "an older request replaces nothing");
    assert!(
        !store(verification(3, "eve@example.com", Purpose::Own)).await,
        "not its address"
    );
    assert!(store(own(4)).await);
    assert_eq!(
        users.verify_email(&[2; 32]).await.unwrap(),
        None,
        "replaced"
    );
    let verified = users
        .verify_email(&[4; 32])
        .await
        .unwrap()
        .expect("verified");
    assert!(verified.email_verified);
    assert_eq!(
        users.verify_email(&[4; 32]).await.unwrap(),
        None,
        "used once"
    );
    assert!(!store(own(5)).await, "verified already");
    assert!(
        !store(change(3, "ada@old.example")).await,
        "asked for before the verification"
    );

    let expired = NewVerification {
        expires_at: chrono::Utc::now() - chrono::Duration::seconds(1),
        ..change(30, "ada@new.example")
    };
    assert!(store(expired).await);
    assert_eq!(users.verify_email(&[30; 32]).await.unwrap(), None);
    assert!(store(change(31, "Bob@example.com")).await);
    assert!(matches!(
        users.verify_email(&[31; 32]).await,
        Err(AppError::Conflict(_))
    ));
    let unchanged = users.by_id(ada.id).await.unwrap().unwrap();
    assert_eq!(unchanged.email, "ada@example.com");
    assert!(store(change(32, "ada@new.example")).await);
    let moved = users.verify_email(&[32; 32]).await.unwrap().expect("moved");
    assert_eq!(moved.email, "ada@new.example");
    assert!(
        !store(verification(40, "ada@example.com", Purpose::Own)).await,
        "a late welcome job for the address left behind stores nothing"
    );

    // Nothing is older than a week yet; everything unverified is older than tomorrow.
    let now = chrono::Utc::now();
    users
        .purge_unverified(now - chrono::Duration::days(7))
        .await
        .unwrap();
    assert!(users.by_id(bob.id).await.unwrap().is_some());
    users
        .purge_unverified(now + chrono::Duration::days(1))
        .await
        .unwrap();
    assert!(
        users.by_id(bob.id).await.unwrap().is_none(),
        "never verified"
    );
    assert!(
        users.by_id(ada.id).await.unwrap().is_some(),
        "verified: kept"
    );
    assert!(
        users.by_id(root.id).await.unwrap().is_some(),
        "an admin: kept"
    );

    let disable = UserChange {
        role: None,
        disabled: Some(true),
    };
    users.update(ada.id, &disable).await.unwrap();
    assert!(!store(change(50, "ada@other.example")).await, "disabled");
}

#[tokio::test]
async fn verifications_keep_their_rules_in_either_store() {
    verifications_keep_their_rules(&Memory::new()).await;
    let env = TestEnv::new().await;
    let inbox = Arc::new(Inbox::default());
    let server = serve(&env, &[("JOBS_WORKER", "false")], &inbox).await;
    verifications_keep_their_rules(&PgUserRepository(server.db().clone())).await;
}
