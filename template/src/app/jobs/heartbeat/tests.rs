use super::*;

#[tokio::test]
async fn the_probe_is_down_once_the_beats_stop_for_longer_than_the_bound() {
    let heartbeat = Heartbeat::default();
    let probe = WorkerProbe {
        heartbeat: heartbeat.clone(),
        stale_after: Duration::from_millis(200),
    };
    assert_eq!(probe.check().await, Ok(()), "new: counts as a beat");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let down = probe.check().await.unwrap_err();
    assert!(down.contains("has not come round"), "{down}");
    heartbeat.beat();
    assert_eq!(probe.check().await, Ok(()), "a beat brings it back");
    assert!(!probe.required(), "a stopped worker degrades the instance");
}
