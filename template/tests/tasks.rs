//! Tasks over real HTTP against a real database: every route, every error status, paging,
//! optimistic concurrency, idempotent creation and all-or-nothing bulk deletion.

mod common;

use common::{Session, TestEnv, TestServer, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn server() -> (TestEnv, TestServer) {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[])).await;
    (env, server)
}

async fn create(server: &TestServer, who: &Session, body: Value) -> Value {
    let response = server.post("/tasks", Some(&who.access), body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn call(
    server: &TestServer,
    who: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    server.call(method, path, &who.access, body).await
}

#[tokio::test]
async fn a_task_goes_through_its_life() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    let task = create(
        &server,
        &ada,
        json!({"title": "  Write notes ", "due_at": "2030-01-01T09:00:00Z"}),
    )
    .await;
    assert_eq!(task["title"], "Write notes", "trimmed");
    assert_eq!(task["status"], "todo");
    assert_eq!(task["version"], 1);
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());

    let got: Value = call(&server, &ada, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, task);

    let replaced: Value = call(
        &server,
        &ada,
        Method::PUT,
        &path,
        Some(json!({
            "title": "Write release notes", "description": "for 1.0", "status": "in_progress",
            "due_at": null, "version": 1,
        })),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(replaced["version"], 2);
    assert_eq!(replaced["due_at"], Value::Null);

    let patched: Value = call(
        &server,
        &ada,
        Method::PATCH,
        &path,
        Some(json!({"description": "for 1.0.0", "version": 2})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(patched["title"], "Write release notes", "untouched");
    assert_eq!(patched["description"], "for 1.0.0");

    let done = call(&server, &ada, Method::POST, &format!("{path}/done"), None).await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["status"], "done");
    let again: Value = call(&server, &ada, Method::POST, &format!("{path}/done"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["version"], done["version"],
        "done twice changes nothing"
    );

    let reopened: Value = call(
        &server,
        &ada,
        Method::PATCH,
        &path,
        Some(json!({"status": "todo", "version": done["version"]})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(reopened["status"], "todo");

    assert_eq!(
        call(&server, &ada, Method::DELETE, &path, None)
            .await
            .status(),
        204
    );
    assert_problem(call(&server, &ada, Method::GET, &path, None).await, 404).await;
}

#[tokio::test]
async fn other_peoples_tasks_are_404_and_admins_see_them() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    let bob = server.signed_in("bob@example.com").await;
    let task = create(&server, &ada, json!({"title": "Private"})).await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    for (method, path, body) in [
        (Method::GET, path.clone(), None),
        (
            Method::PUT,
            path.clone(),
            Some(
                json!({"title": "x", "description": "", "status": "todo", "due_at": null, "version": 1}),
            ),
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"title": "x", "version": 1})),
        ),
        (Method::POST, format!("{path}/done"), None),
        (Method::DELETE, path.clone(), None),
    ] {
        let response = call(&server, &bob, method.clone(), &path, body).await;
        assert_problem(response, 404).await;
    }
    let listed: Value = call(&server, &bob, Method::GET, "/tasks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"], json!([]));
    let admin = server.admin("admin@example.com").await;
    assert_eq!(
        call(&server, &admin, Method::GET, &path, None)
            .await
            .status(),
        200
    );
    // Untouched by Bob's attempts.
    let still: Value = call(&server, &ada, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still, task);
    assert_problem(server.get("/tasks").await, 401).await;
}

#[tokio::test]
async fn stale_versions_and_forbidden_moves_are_409() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    let task = create(&server, &ada, json!({"title": "Race"})).await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    let first = call(
        &server,
        &ada,
        Method::PATCH,
        &path,
        Some(json!({"title": "First", "version": 1})),
    )
    .await;
    assert_eq!(first.status(), 200);
    let lost = call(
        &server,
        &ada,
        Method::PATCH,
        &path,
        Some(json!({"title": "Lost update", "version": 1})),
    )
    .await;
    let body = assert_problem(lost, 409).await;
    assert!(
        body["detail"].as_str().unwrap().contains("version 2"),
        "{body}"
    );
    call(&server, &ada, Method::POST, &format!("{path}/done"), None).await;
    let skip = call(
        &server,
        &ada,
        Method::PATCH,
        &path,
        Some(json!({"status": "in_progress", "version": 3})),
    )
    .await;
    let body = assert_problem(skip, 409).await;
    assert!(
        body["detail"].as_str().unwrap().contains("reopen"),
        "{body}"
    );
    let stored: Value = call(&server, &ada, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["title"], "First");
    assert_eq!(stored["status"], "done");
}

#[tokio::test]
async fn invalid_tasks_are_422_naming_the_field_and_nothing_is_stored() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    let cases = [
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": "two\nlines"}), "title"),
        (json!({"title": format!(" {} ", "x".repeat(199))}), "title"),
        (
            json!({"title": "ok", "description": "bell\u{7}"}),
            "description",
        ),
        (
            json!({"title": "ok", "description": "x".repeat(10_001)}),
            "description",
        ),
        (json!({"title": "ok", "status": "archived"}), "status"),
        (json!({"title": "ok", "due_at": "tomorrow"}), "due_at"),
        (json!({"title": "ok", "owner_id": "someone"}), "owner_id"),
        (json!({"title": 7}), "title"),
    ];
    for (body, field) in cases {
        let response = server.post("/tasks", Some(&ada.access), body.clone()).await;
        let problem = assert_problem(response, 422).await;
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{body} should name {field}: {problem}"
        );
    }
    let task = create(&server, &ada, json!({"title": "ok"})).await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    let no_version = call(
        &server,
        &ada,
        Method::PATCH,
        &path,
        Some(json!({"title": "x"})),
    )
    .await;
    assert_problem(no_version, 422).await;
    // JSON Schema's integers include 1.0, so the server takes it; 1.5 is no version.
    for (version, status) in [(json!(1.5), 422), (json!("1"), 422), (json!(1.0), 200)] {
        let body = json!({"title": "x", "version": version});
        let response = call(&server, &ada, Method::PATCH, &path, Some(body)).await;
        assert_eq!(response.status(), status, "version {version}");
    }
    assert_problem(
        call(&server, &ada, Method::GET, "/tasks/not-a-uuid", None).await,
        400,
    )
    .await;
    let listed: Value = call(&server, &ada, Method::GET, "/tasks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn hostile_titles_are_stored_and_returned_verbatim() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    let title = "<img src=x onerror=alert(1)>'); DELETE FROM tasks; --";
    let task = create(
        &server,
        &ada,
        json!({"title": title, "description": "\"quoted\" \\ backslash"}),
    )
    .await;
    assert_eq!(task["title"], title);
    let listed: Value = call(&server, &ada, Method::GET, "/tasks", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["title"], title);
}

async fn titles(server: &TestServer, who: &Session, query: &str) -> (Vec<String>, Option<String>) {
    let response = call(server, who, Method::GET, &format!("/tasks?{query}"), None).await;
    assert_eq!(response.status(), 200, "{query}");
    let page: Value = response.json().await.unwrap();
    let titles = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect();
    (titles, page["next_cursor"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn lists_filter_sort_and_page_by_offset_and_by_cursor_alike() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    for (n, title) in ["delta", "alpha", "echo", "charlie", "bravo"]
        .iter()
        .enumerate()
    {
        let status = if n % 2 == 0 { "todo" } else { "done" };
        create(&server, &ada, json!({"title": title, "status": status, "due_at": format!("2030-01-0{}T00:00:00Z", n + 1)})).await;
    }
    let bob = server.signed_in("bob@example.com").await;
    create(&server, &bob, json!({"title": "bob's"})).await;

    let (all, _) = titles(&server, &ada, "sort=title&direction=asc&limit=100").await;
    assert_eq!(all, ["alpha", "bravo", "charlie", "delta", "echo"]);
    let (newest, _) = titles(&server, &ada, "limit=2").await;
    assert_eq!(newest, ["bravo", "charlie"], "default: newest first");
    let (todo, _) = titles(&server, &ada, "status=todo&sort=title&direction=asc").await;
    assert_eq!(todo, ["bravo", "delta", "echo"]);
    let (due, _) = titles(
        &server,
        &ada,
        "sort=due_at&direction=asc&due_after=2030-01-02T00:00:00Z&due_before=2030-01-04T00:00:00Z",
    )
    .await;
    assert_eq!(due, ["alpha", "echo"]);

    // Walk by cursor, two at a time; the pages equal the offset pages.
    let mut by_cursor = Vec::new();
    let mut query = "sort=title&direction=desc&limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (page, next) = titles(&server, &ada, &query).await;
        let offset = pages * 2;
        let (by_offset, _) = titles(
            &server,
            &ada,
            &format!("sort=title&direction=desc&limit=2&offset={offset}"),
        )
        .await;
        assert_eq!(page, by_offset);
        by_cursor.extend(page);
        pages += 1;
        match next {
            Some(cursor) => query = format!("sort=title&direction=desc&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(by_cursor, ["echo", "delta", "charlie", "bravo", "alpha"]);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn bad_list_parameters_are_400_or_422() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    for _ in 0..3 {
        create(&server, &ada, json!({"title": "t"})).await;
    }
    let (_, cursor) = titles(&server, &ada, "limit=1").await;
    let cursor = cursor.unwrap();
    for (query, status) in [
        ("limit=0", 422),
        ("limit=101", 422),
        ("offset=-1", 422),
        ("status=archived", 422),
        ("sort=owner", 422),
        ("unknown=1", 422),
        ("offset=1&cursor=abc", 400),
        ("cursor=not-a-cursor", 400),
        (&format!("cursor={cursor}&direction=asc") as &str, 400),
        (&format!("cursor={cursor}&sort=title") as &str, 400),
    ] {
        let response = call(&server, &ada, Method::GET, &format!("/tasks?{query}"), None).await;
        assert_problem(response, status).await;
    }
}

#[tokio::test]
async fn one_idempotency_key_replays_the_first_response() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    let post = |key: &str, body: Value| {
        server
            .client
            .post(server.url("/tasks"))
            .bearer_auth(&ada.access)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = post("key-1", json!({"title": "Once"})).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    // The same body, formatted differently, replays the stored response.
    let again = server
        .client
        .post(server.url("/tasks"))
        .bearer_auth(&ada.access)
        .header("idempotency-key", "key-1")
        .header("content-type", "application/json")
        .body("{ \"title\" :   \"Once\" }")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // The same key with another body is refused: a conflict with the key's first use.
    let other = post("key-1", json!({"title": "Twice?"})).await.unwrap();
    assert_problem(other, 409).await;
    // Keys are per user: Bob's "key-1" is his own.
    let bob = server.signed_in("bob@example.com").await;
    let bobs = server
        .client
        .post(server.url("/tasks"))
        .bearer_auth(&bob.access)
        .header("idempotency-key", "key-1")
        .json(&json!({"title": "Once"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bobs.status(), 201);
    let bad_key = post("with space", json!({"title": "x"})).await.unwrap();
    assert_problem(bad_key, 400).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(count, 2);
    // Once its task is deleted, a key is spent: no replay of a task that is gone.
    let path = format!("/tasks/{}", first["id"].as_str().unwrap());
    let deleted = call(&server, &ada, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), 204);
    let replay = post("key-1", json!({"title": "Once"})).await.unwrap();
    assert_problem(replay, 409).await;
}

// ANCHOR: concurrent_key
/// 100 clients send the same request with the same key at once: exactly one task exists
/// afterwards, and every client got the same response.
#[tokio::test]
async fn a_hundred_concurrent_requests_with_one_key_make_one_task() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[("DATABASE_MAX_CONNECTIONS", "10")])).await;
    let ada = server.signed_in("ada@example.com").await;
    let requests = (0..100).map(|_| {
        server
            .client
            .post(server.url("/tasks"))
            .bearer_auth(&ada.access)
            .header("idempotency-key", "checkout-42")
            .json(&json!({"title": "Pay"}))
            .send()
    });
    let responses = futures::future::join_all(requests).await;
    let mut bodies = Vec::new();
    for response in responses {
        let response = response.unwrap();
        assert_eq!(response.status(), 201);
        bodies.push(response.json::<Value>().await.unwrap());
    }
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "identical responses"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(server.db())
        .await
        .unwrap();
    assert_eq!(count, 1);
}
// ANCHOR_END: concurrent_key

// ANCHOR: bulk_delete_test
#[tokio::test]
async fn bulk_delete_is_one_transaction() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    let bob = server.signed_in("bob@example.com").await;
    let a1 = create(&server, &ada, json!({"title": "a1"})).await;
    let a2 = create(&server, &ada, json!({"title": "a2"})).await;
    let b1 = create(&server, &bob, json!({"title": "b1"})).await;
    // Ada's two deletes run first, then Bob's task fails the third: all rolled back.
    let mixed = server
        .post(
            "/tasks/bulk-delete",
            Some(&ada.access),
            json!({"ids": [a1["id"], a2["id"], b1["id"]]}),
        )
        .await;
    assert_problem(mixed, 404).await;
    let (left, _) = titles(&server, &ada, "sort=title&direction=asc").await;
    assert_eq!(left, ["a1", "a2"], "nothing was deleted");
    assert_problem(
        server
            .post("/tasks/bulk-delete", Some(&ada.access), json!({"ids": []}))
            .await,
        422,
    )
    .await;
    let mine = server
        .post(
            "/tasks/bulk-delete",
            Some(&ada.access),
            json!({"ids": [a1["id"], a2["id"]]}),
        )
        .await;
    assert_eq!(mine.status(), 204);
    let (left, _) = titles(&server, &ada, "").await;
    assert!(left.is_empty());
}
// ANCHOR_END: bulk_delete_test

// ANCHOR: n_plus_one
/// The N+1 guard: a page of twenty tasks costs two statements (authentication and the page),
/// not one more per task. Day 12 shows how to find such statements in the query log.
#[tokio::test]
async fn a_page_of_tasks_costs_two_statements_however_many_tasks_it_holds() {
    // Only the request's statements are counted: no job worker polls on this thread.
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[("JOBS_WORKER", "false")])).await;
    let ada = server.signed_in("ada@example.com").await;
    for n in 0..20 {
        create(&server, &ada, json!({ "title": format!("task {n}") })).await;
    }
    server.state().audit.flush().await;

    let statements = common::StatementCounter::start();
    let page = call(&server, &ada, Method::GET, "/tasks?limit=20", None).await;
    assert_eq!(page.status(), 200);
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    assert_eq!(statements.count(), 2, "authentication and the page");
}
// ANCHOR_END: n_plus_one

/// The error statuses of PUT and POST not covered above: stale and incomplete replacements,
/// malformed ids and bodies, oversized bodies.
#[tokio::test]
async fn put_and_post_refuse_what_they_cannot_take() {
    let env = TestEnv::new().await;
    let server = TestServer::start(&env.config(&[("HTTP_BODY_LIMIT_BYTES", "65536")])).await;
    let ada = server.signed_in("ada@example.com").await;
    let task = create(&server, &ada, json!({"title": "v1"})).await;
    let path = format!("/tasks/{}", task["id"].as_str().unwrap());
    let full = |title: &str, version: i64| json!({"title": title, "description": "", "status": "todo", "due_at": null, "version": version});
    assert_eq!(
        call(&server, &ada, Method::PUT, &path, Some(full("v2", 1)))
            .await
            .status(),
        200
    );
    let stale = call(&server, &ada, Method::PUT, &path, Some(full("lost", 1))).await;
    assert_problem(stale, 409).await;
    let incomplete = call(
        &server,
        &ada,
        Method::PUT,
        &path,
        Some(json!({"title": "x", "version": 2})),
    )
    .await;
    assert_problem(incomplete, 422).await;
    let bad_id = call(&server, &ada, Method::PUT, "/tasks/42", Some(full("x", 1))).await;
    assert_problem(bad_id, 400).await;
    let not_json = server
        .client
        .post(server.url("/tasks"))
        .bearer_auth(&ada.access)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_problem(not_json, 400).await;
    let huge = json!({"title": "big", "description": "x".repeat(100_000)});
    assert_problem(server.post("/tasks", Some(&ada.access), huge).await, 413).await;
    let stored: Value = call(&server, &ada, Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["title"], "v2");
}

/// Values no task could hold are refused with 400/422 before or at the database, never 500.
#[tokio::test]
async fn out_of_range_values_are_client_errors() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    let ancient = server
        .post(
            "/tasks",
            Some(&ada.access),
            json!({"title": "old", "due_at": "-5000-01-01T00:00:00Z"}),
        )
        .await;
    assert_problem(ancient, 422).await;
    let query = call(
        &server,
        &ada,
        Method::GET,
        "/tasks?due_after=%2B20000-01-01T00:00:00Z",
        None,
    )
    .await;
    assert_problem(query, 422).await;
    let task = create(&server, &ada, json!({"title": "t"})).await;
    let twice = server
        .post(
            "/tasks/bulk-delete",
            Some(&ada.access),
            json!({"ids": [task["id"], task["id"]]}),
        )
        .await;
    assert_problem(twice, 422).await;
}

#[tokio::test]
async fn the_next_page_is_linked_with_the_same_query() {
    let (_env, server) = server().await;
    let ada = server.signed_in("ada@example.com").await;
    for title in ["a", "b", "c", "d"] {
        create(&server, &ada, json!({"title": title})).await;
    }
    create(&server, &ada, json!({"title": "e", "status": "done"})).await;
    // The offset gives way to the cursor (however its key is spelled); the filter, the
    // ordering and the limit stay.
    let mut path = "/tasks?status=todo&sort=title&direction=asc&limit=2&%6Fffset=1".to_owned();
    let mut seen = Vec::new();
    loop {
        let response = call(&server, &ada, Method::GET, &path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let link = response
            .headers()
            .get("link")
            .map(|value| value.to_str().unwrap().to_owned());
        let page: Value = response.json().await.unwrap();
        for task in page["items"].as_array().unwrap() {
            seen.push(task["title"].as_str().unwrap().to_owned());
        }
        let Some(cursor) = page["next_cursor"].as_str() else {
            assert_eq!(link, None, "the last page links nowhere");
            break;
        };
        let expected = format!(
            "<?status=todo&sort=title&direction=asc&limit=2&cursor={cursor}>; rel=\"next\""
        );
        assert_eq!(link.as_deref(), Some(expected.as_str()));
        // A query-only reference: resolved against the path just asked for.
        path = format!("/tasks{}", &expected[1..expected.find('>').unwrap()]);
    }
    assert_eq!(seen, ["b", "c", "d"]);
}
