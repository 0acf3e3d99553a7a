use super::*;

#[test]
fn a_spike_fires_once_per_window_at_the_threshold() {
    let mut detector = SpikeDetector::new(3, Duration::from_secs(60));
    let t0 = Instant::now();
    assert_eq!(detector.observe(t0), None);
    assert_eq!(detector.observe(t0 + Duration::from_secs(1)), None);
    assert_eq!(detector.observe(t0 + Duration::from_secs(2)), Some(3));
    assert_eq!(detector.observe(t0 + Duration::from_secs(3)), None);
    // A new window starts counting from one again.
    let t1 = t0 + Duration::from_secs(61);
    assert_eq!(detector.observe(t1), None);
    assert_eq!(detector.observe(t1), None);
    assert_eq!(detector.observe(t1), Some(3));
}
