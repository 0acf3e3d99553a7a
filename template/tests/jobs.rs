//! Background jobs against real Postgres: the outbox, retries, dead letters, a worker that
//! dies mid-job, shutdown, and the SMTP mailer talking to a real (if tiny) SMTP server.

mod common;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use common::{TestEnv, TestServer, assert_problem, eventually};
use reqwest::Method;
use sqlx::PgPool;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::{Notify, oneshot},
};
use uuid::Uuid;

use {{crate_name}}::app::jobs::Job;
use {{crate_name}}::app::jobs::JobQueue;
use {{crate_name}}::app::jobs::JobSpec;
use {{crate_name}}::app::jobs::Outcome;
use {{crate_name}}::app::mail::Email;
use {{crate_name}}::app::mail::MailError;
use {{crate_name}}::app::mail::Mailer;
use {{crate_name}}::app::memory::Memory;
use {{crate_name}}::config::Config;
use {{crate_name}}::config::MailConfig;
use {{crate_name}}::config::MailTransport;
use {{crate_name}}::infra::jobs::PgJobQueue;
use {{crate_name}}::infra::mail::SmtpMailer;
use {{crate_name}}::startup::Application;

/// A mailer that records what it sends and misbehaves on request.
#[derive(Default)]
struct RecordingMailer {
    sent: Mutex<Vec<Email>>,
    calls: AtomicUsize,
    /// The first this many calls fail with a transient error.
    failures: AtomicUsize,
    /// Every call fails while set.
    broken: AtomicBool,
    /// The first call never returns (its worker is killed or shut down meanwhile).
    hang_first: AtomicBool,
    /// How long each send takes.
    delay: Mutex<Duration>,
    /// Notified when a call starts.
    started: Notify,
}

#[async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.started.notify_one();
        if call == 0 && self.hang_first.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let delay = *self.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        if self.broken.load(Ordering::SeqCst) {
            return Err(MailError::Transient("the mail server is down".into()));
        }
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(MailError::Transient("421 try again later".into()));
        }
        self.sent.lock().unwrap().push(email.clone());
        Ok(())
    }
}

impl RecordingMailer {
    fn sent_to(&self) -> Vec<String> {
        let mut to: Vec<String> = self
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.to.clone())
            .collect();
        to.sort();
        to
    }
}

/// Fast jobs for tests: quick retries, short timeouts; `extra` wins.
fn config(env: &TestEnv, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("JOBS_POLL_INTERVAL_MS", "50"),
        ("JOBS_BACKOFF_BASE_MS", "20"),
        ("JOBS_BACKOFF_MAX_MS", "100"),
        ("JOBS_TIMEOUT_MS", "2000"),
        ("JOBS_DRAIN_TIMEOUT_MS", "2000"),
{%- if webhooks %}
        // Jobs must outlast a webhook attempt.
        ("WEBHOOK_TIMEOUT_MS", "100"),
{%- endif %}
    ];
    vars.extend_from_slice(extra);
    env.config(&vars)
}

/// A stop signal for a worker, and its trigger.
fn stop_signal() -> (
    oneshot::Sender<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (stop, stopped) = oneshot::channel::<()>();
    (stop, async move {
        let _ = stopped.await;
    })
}

/// The application on `config`, sending its email through `mailer`, running as `main` runs
/// it (with its own job worker unless `JOBS_WORKER=false`).
async fn serve(config: &Config, mailer: &Arc<RecordingMailer>) -> TestServer {
    common::install_crypto_provider();
    let app = Application::build(config.clone())
        .await
        .expect("the app starts")
        .with_mailer(mailer.clone());
    TestServer::run(app).await
}

/// (status, attempts, last_error) of every job, oldest first.
async fn jobs(db: &PgPool) -> Vec<(String, i32, Option<String>)> {
    sqlx::query_as("SELECT status, attempts, last_error FROM jobs ORDER BY created_at, id")
        .fetch_all(db)
        .await
        .unwrap()
}

/// A job of the tests' own kind, which no handler runs.
#[derive(serde::Serialize, serde::Deserialize)]
struct Probe {
    n: u32,
}

impl JobSpec for Probe {
    const KIND: &'static str = "probe";

    fn key(&self) -> String {
        format!("probe.{}", self.n)
    }
}

/// A lane gets at most its share of running jobs: within one claim, across claims, and again
/// when one of its jobs is settled; a job without a lane is not limited.
async fn lanes_keep_their_share(queue: &dyn JobQueue) {
    let lease = Duration::from_secs(60);
    for n in 0..4 {
        let job = Job::new(&Probe { n }).in_lane("webhooks:ada".into());
        assert!(queue.enqueue(&job).await.unwrap());
    }
    assert!(queue.enqueue(&Job::new(&Probe { n: 9 })).await.unwrap());
    let first = queue.claim(10, 2, lease).await.unwrap();
    let mut claimed: Vec<_> = first.iter().map(|job| job.payload["n"].clone()).collect();
    claimed.sort_by_key(|n| n.as_u64());
    assert_eq!(
        claimed,
        [0, 1, 9],
        "the lane's oldest two, and the job without a lane"
    );
    let again = queue.claim(10, 2, lease).await.unwrap();
    assert!(again.is_empty(), "the lane is at its share");
    let in_lane = first.iter().find(|job| job.payload["n"] != 9).unwrap();
    assert!(queue.settle(in_lane.lease, &Outcome::Done).await.unwrap());
    let next = queue.claim(10, 2, lease).await.unwrap();
    assert_eq!(next.len(), 1, "a settled job frees one place");
}

#[tokio::test]
async fn a_lane_runs_at_most_its_share_of_jobs_in_either_queue() {
    lanes_keep_their_share(&Memory::new()).await;
    let env = TestEnv::new().await;
    let config = config(&env, &[("JOBS_WORKER", "false")]);
    let server = serve(&config, &Arc::new(RecordingMailer::default())).await;
    lanes_keep_their_share(&PgJobQueue(server.db().clone())).await;
}

#[tokio::test]
async fn registering_sends_one_welcome_email_and_a_taken_address_a_notice_to_its_owner() {
    let env = TestEnv::new().await;
    // Polling is slow here: the email arrives promptly only because registering pokes the
    // worker through its channel.
    let config = config(&env, &[("JOBS_POLL_INTERVAL_MS", "60000")]);
    let mailer = Arc::new(RecordingMailer::default());
    let server = serve(&config, &mailer).await;

    assert_eq!(
        server
            .register("ann@example.com", common::PASSWORD)
            .await
            .status(),
        201
    );
    assert_eq!(
        server
            .register("bob@example.com", common::PASSWORD)
            .await
            .status(),
        201
    );
    // The email is taken: the account's transaction rolls back, and its welcome with it; the
    // answer is the same 201, and the owner gets a notice instead.
    assert_eq!(
        server
            .register("ANN@example.com", common::PASSWORD)
            .await
            .status(),
        201
    );

    eventually("three emails", async || mailer.sent_to().len() == 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        mailer.sent_to(),
        ["ann@example.com", "ann@example.com", "bob@example.com"]
    );
    let sent = mailer.sent.lock().unwrap().clone();
    let sent_as = |prefix: &str| {
        sent.iter()
            .find(|email| email.key.starts_with(prefix))
            .unwrap()
            .clone()
    };
    let email = sent_as("welcome-email.");
    assert_eq!(email.subject, "Welcome to task-svc");
    assert!(email.body.contains("Test User"), "{}", email.body);
    let notice = sent_as("account-exists-email.");
    assert_eq!(notice.to, "ann@example.com");
    assert_eq!(
        notice.subject,
        "Someone tried to register your address at task-svc"
    );
    assert_eq!(
        jobs(server.db()).await,
        [
            ("done".into(), 1, None),
            ("done".into(), 1, None),
            ("done".into(), 1, None)
        ]
    );
}

#[tokio::test]
async fn a_transient_failure_is_retried_until_the_email_is_sent_once() {
    let env = TestEnv::new().await;
    let config = config(&env, &[]);
    let mailer = Arc::new(RecordingMailer::default());
    mailer.failures.store(2, Ordering::SeqCst);
    let server = serve(&config, &mailer).await;

    assert_eq!(
        server
            .register("ann@example.com", common::PASSWORD)
            .await
            .status(),
        201
    );

    eventually("the job is done", async || {
        jobs(server.db())
            .await
            .first()
            .is_some_and(|j| j.0 == "done")
    })
    .await;
    assert_eq!(mailer.sent_to(), ["ann@example.com"]);
    assert_eq!(mailer.calls.load(Ordering::SeqCst), 3);
    let (_, attempts, last_error) = jobs(server.db()).await.remove(0);
    assert_eq!(attempts, 3);
    assert!(
        last_error.is_some_and(|e| e.contains("421")),
        "the last failure is kept for inspection"
    );
}

#[tokio::test]
async fn a_job_out_of_attempts_is_dead_until_an_admin_requeues_it() {
    let env = TestEnv::new().await;
    let config = config(&env, &[("JOBS_MAX_ATTEMPTS", "3")]);
    let mailer = Arc::new(RecordingMailer::default());
    mailer.broken.store(true, Ordering::SeqCst);
    let server = serve(&config, &mailer).await;
    let admin = server.admin("admin@example.com").await;
    let user = server.signed_in("user@example.com").await;

    eventually("both welcome emails are dead", async || {
        jobs(server.db())
            .await
            .iter()
            .filter(|j| j.0 == "dead")
            .count()
            == 2
    })
    .await;
    assert_eq!(mailer.calls.load(Ordering::SeqCst), 6, "3 attempts each");

    let page: serde_json::Value = server
        .call(Method::GET, "/jobs?status=dead", &admin.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 2, "{page}");
    let job = &page["items"][0];
    assert_eq!(job["kind"], "welcome_email");
    assert_eq!(job["attempts"], 3);
    assert!(
        job["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("the mail server is down") && e.contains("attempt 3 of 3")),
        "{job}"
    );
    let id = job["id"].as_str().unwrap().to_owned();

    // The mail server is back; the admin requeues one job, which runs at once.
    mailer.broken.store(false, Ordering::SeqCst);
    let requeued = server
        .call(
            Method::POST,
            &format!("/jobs/{id}/requeue"),
            &admin.access,
            None,
        )
        .await;
    assert_eq!(requeued.status(), 200);
    let requeued: serde_json::Value = requeued.json().await.unwrap();
    assert_eq!(requeued["status"], "queued");
    assert_eq!(requeued["attempts"], 0);
    eventually("the requeued email is sent", async || {
        mailer.sent_to().len() == 1
    })
    .await;
    let dead: serde_json::Value = server
        .call(Method::GET, "/jobs", &admin.access, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dead["total"], 1, "the other job is still dead: {dead}");

    // Only dead jobs can be requeued, only by admins, and only jobs that exist.
    eventually("the job is done", async || {
        jobs(server.db()).await.iter().any(|j| j.0 == "done")
    })
    .await;
    let again = server
        .call(
            Method::POST,
            &format!("/jobs/{id}/requeue"),
            &admin.access,
            None,
        )
        .await;
    let body = assert_problem(again, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("done"), "{body}");
    let unknown = format!("/jobs/{}/requeue", Uuid::now_v7());
    assert_problem(
        server
            .call(Method::POST, &unknown, &admin.access, None)
            .await,
        404,
    )
    .await;
    assert_problem(
        server
            .call(
                Method::POST,
                "/jobs/not-a-uuid/requeue",
                &admin.access,
                None,
            )
            .await,
        400,
    )
    .await;
    assert_problem(
        server
            .call(
                Method::POST,
                &format!("/jobs/{id}/requeue"),
                &user.access,
                None,
            )
            .await,
        403,
    )
    .await;
    assert_problem(
        server.call(Method::GET, "/jobs", &user.access, None).await,
        403,
    )
    .await;
    assert_problem(
        server
            .call(Method::GET, "/jobs?status=lost", &admin.access, None)
            .await,
        422,
    )
    .await;
    assert_problem(
        server
            .call(Method::GET, "/jobs?limit=101", &admin.access, None)
            .await,
        422,
    )
    .await;
}

#[tokio::test]
async fn a_job_survives_a_worker_that_dies_mid_job_and_is_sent_once() {
    let env = TestEnv::new().await;
    // A 300 ms timeout gives a 600 ms lease: how long a dead worker's job waits.
    // No worker of the application's own: this test runs (and kills) its workers itself.
    let config = config(
        &env,
        &[
            ("JOBS_TIMEOUT_MS", "300"),
            ("JOBS_POLL_INTERVAL_MS", "100"),
            ("JOBS_WORKER", "false"),
        ],
    );
    let mailer = Arc::new(RecordingMailer::default());
    mailer.hang_first.store(true, Ordering::SeqCst);
    let server = serve(&config, &mailer).await;
    // Registered while no worker runs: the job waits in the table.
    assert_eq!(
        server
            .register("ann@example.com", common::PASSWORD)
            .await
            .status(),
        201
    );
    assert_eq!(jobs(server.db()).await, [("queued".into(), 0, None)]);

    let (_stop, stopped) = stop_signal();
    let first = server
        .state()
        .jobs
        .start_worker(server.job_runner(), &config.jobs, stopped);
    mailer.started.notified().await;
    // The worker dies in the middle of sending, as a killed process would: nothing settles
    // the job, which stays claimed until its lease runs out.
    first.abort();
    let _ = first.await;
    assert_eq!(jobs(server.db()).await[0].0, "running");
    assert!(mailer.sent_to().is_empty());

    let (_stop, stopped) = stop_signal();
    server
        .state()
        .jobs
        .start_worker(server.job_runner(), &config.jobs, stopped);
    eventually("another worker finishes the job", async || {
        jobs(server.db()).await[0].0 == "done"
    })
    .await;
    assert_eq!(mailer.sent_to(), ["ann@example.com"], "sent exactly once");
    assert_eq!(jobs(server.db()).await[0].1, 2, "two claims");
}

#[tokio::test]
async fn shutdown_lets_a_running_job_finish() {
    let env = TestEnv::new().await;
    let config = config(&env, &[]);
    let mailer = Arc::new(RecordingMailer::default());
    *mailer.delay.lock().unwrap() = Duration::from_millis(300);
    let server = serve(&config, &mailer).await;
    assert_eq!(
        server
            .register("ann@example.com", common::PASSWORD)
            .await
            .status(),
        201
    );
    mailer.started.notified().await;

    // The whole application stops, as on SIGTERM: the worker drains before the pool closes.
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("the application stops within the drain timeout")
        .unwrap();
    assert_eq!(mailer.sent_to(), ["ann@example.com"]);
    let db = PgPool::connect(&env.db.url).await.unwrap();
    assert_eq!(jobs(&db).await, [("done".into(), 1, None)]);
    db.close().await;
}

#[tokio::test]
async fn shutdown_puts_back_a_job_that_outlasts_the_drain_timeout() {
    let env = TestEnv::new().await;
    let config = config(&env, &[("JOBS_DRAIN_TIMEOUT_MS", "200")]);
    let mailer = Arc::new(RecordingMailer::default());
    mailer.hang_first.store(true, Ordering::SeqCst);
    let server = serve(&config, &mailer).await;
    assert_eq!(
        server
            .register("ann@example.com", common::PASSWORD)
            .await
            .status(),
        201
    );
    mailer.started.notified().await;

    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("the worker gives up on the job after the drain timeout")
        .unwrap();
    // Released, not failed: queued again at once and the cut-short attempt not counted.
    let db = PgPool::connect(&env.db.url).await.unwrap();
    assert_eq!(jobs(&db).await, [("queued".into(), 0, None)]);

    // The next instance's worker sends it.
    let next = serve(&config, &mailer).await;
    eventually("the next worker sends it", async || {
        jobs(&db).await[0].0 == "done"
    })
    .await;
    assert_eq!(mailer.sent_to(), ["ann@example.com"]);
    next.shutdown().await.unwrap();
    db.close().await;
}

/// A minimal SMTP server: accepts everything except recipients given a reply code in
/// `rcpt_reply`, and hands each received message's envelope and data to the test.
async fn smtp_server(
    rcpt_reply: &'static str,
) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (received, messages) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let received = received.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let mut transcript = String::new();
                write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    transcript.push_str(&line);
                    transcript.push('\n');
                    let verb = line
                        .split([' ', ':'])
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply = match verb.as_str() {
                        "EHLO" | "HELO" => "250 test\r\n",
                        "RCPT" => rcpt_reply,
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.unwrap();
                            while let Ok(Some(data)) = lines.next_line().await {
                                if data == "." {
                                    break;
                                }
                                transcript.push_str(&data);
                                transcript.push('\n');
                            }
                            let _ = received.send(std::mem::take(&mut transcript));
                            "250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => "250 ok\r\n",
                    };
                    write.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (port, messages)
}

fn smtp_config(url: String) -> MailConfig {
    MailConfig {
        transport: MailTransport::Smtp,
        smtp_url: Some(url.into()),
        smtp_timeout: Duration::from_secs(5),
        from: "Tasks <no-reply@tasks.example>".into(),
    }
}

fn welcome() -> Email {
    Email {
        to: "ann@example.com".into(),
        subject: "Welcome".into(),
        body: "Hello Ann".into(),
        key: "welcome-email.0190-test".into(),
    }
}

#[tokio::test]
async fn the_smtp_mailer_delivers_to_an_smtp_server() {
    let (port, mut messages) = smtp_server("250 ok\r\n").await;
    let mailer = SmtpMailer::new(&smtp_config(format!("smtp://127.0.0.1:{port}"))).unwrap();
    mailer.send(&welcome()).await.expect("sent");
    let message = messages.recv().await.unwrap();
    assert!(
        message.contains("MAIL FROM:<no-reply@tasks.example>"),
        "{message}"
    );
    assert!(message.contains("RCPT TO:<ann@example.com>"), "{message}");
    assert!(message.contains("Subject: Welcome"), "{message}");
    assert!(
        message.contains("Message-ID: <welcome-email.0190-test@tasks.example>"),
        "a resend carries the same Message-ID: {message}"
    );
    assert!(message.contains("Hello Ann"), "{message}");
}

#[tokio::test]
async fn smtp_failures_are_told_apart_for_the_retry_policy() {
    let (permanent, _) = smtp_server("550 no such user\r\n").await;
    let mailer = SmtpMailer::new(&smtp_config(format!("smtp://127.0.0.1:{permanent}"))).unwrap();
    assert!(matches!(
        mailer.send(&welcome()).await,
        Err(MailError::Rejected(_))
    ));

    let (busy, _) = smtp_server("451 try again later\r\n").await;
    let mailer = SmtpMailer::new(&smtp_config(format!("smtp://127.0.0.1:{busy}"))).unwrap();
    assert!(matches!(
        mailer.send(&welcome()).await,
        Err(MailError::Transient(_))
    ));

    // Nothing listens on the port: a connection failure is worth retrying.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mailer = SmtpMailer::new(&smtp_config(format!("smtp://127.0.0.1:{closed}"))).unwrap();
    assert!(matches!(
        mailer.send(&welcome()).await,
        Err(MailError::Transient(_))
    ));

    let mut bad_recipient = welcome();
    bad_recipient.to = "not an address".into();
    assert!(matches!(
        mailer.send(&bad_recipient).await,
        Err(MailError::Rejected(_))
    ));
}
