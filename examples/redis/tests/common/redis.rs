//! The Redis server of a test run.

use testcontainers_modules::{
    redis::{REDIS_PORT, Redis},
    testcontainers::{ContainerAsync, runners::AsyncRunner},
};

use super::setting;

/// The Redis server of this test run: `REDIS_URL`, or a container. Each test's keys and
/// channels carry a prefix of their own, so tests running at once never see each other's.
pub struct TestRedis {
    pub url: String,
    pub prefix: String,
    _container: Option<ContainerAsync<Redis>>,
}

impl TestRedis {
    pub async fn new() -> Self {
        let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
        match setting("REDIS_URL") {
            Some(url) => Self {
                url,
                prefix,
                _container: None,
            },
            None => {
                let container = Redis::default().start().await.expect(
                    "REDIS_URL is unset and no Redis container could start (is Docker running?)",
                );
                let host = container.get_host().await.expect("container host");
                let port = container
                    .get_host_port_ipv4(REDIS_PORT)
                    .await
                    .expect("container port");
                Self {
                    url: format!("redis://{host}:{port}"),
                    prefix,
                    _container: Some(container),
                }
            }
        }
    }
}
