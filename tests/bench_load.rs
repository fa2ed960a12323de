//! `baton bench server` and `baton bench soak`, run for a second or two so
//! that they keep working. Nothing here looks at how fast anything was: the
//! figures live in the README, measured with the release build.

use baton::bench::{LAYOUT_OWN_PAGE, LAYOUT_SHARED_PAGE, SoakConfig, server, soak};
use baton::server::DeliveryConfig;
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_bench_measures_every_configuration() {
    let f = server(Duration::from_secs(1)).await;
    let expected = [
        ("echo", "", 1),
        ("graph", LAYOUT_OWN_PAGE, 1),
        ("echo", "", 32),
        ("graph", LAYOUT_OWN_PAGE, 32),
        ("graph", LAYOUT_SHARED_PAGE, 32),
    ];
    assert_eq!(f.runs.len(), expected.len());
    for (target, layout, clients) in expected {
        let r = f
            .run(target, layout, clients)
            .unwrap_or_else(|| panic!("no run {target} {layout} x{clients}"));
        // Every request got the status its script expects: the Graph calls
        // really are the mix of successes and refusals they claim to be.
        assert_eq!(
            r.unexpected, 0,
            "{target} x{clients}: {:?}",
            r.first_unexpected
        );
        assert!(
            r.requests > 0 && r.per_sec > 0.0 && r.seconds > 0.0,
            "{r:?}"
        );
        assert!(
            r.p50_us > 0.0 && r.p50_us <= r.p99_us && r.p99_us <= r.max_us,
            "{r:?}"
        );
        if target == "graph" {
            // Clients always finish a round of the script (9 calls).
            assert_eq!(r.requests % 9, 0, "{r:?}");
        }
    }
    assert_eq!(f.ratios.len(), 3);
    for r in &f.ratios {
        let g = f.run("graph", &r.layout, r.clients).expect("graph run");
        let e = f.run("echo", "", r.clients).expect("echo run");
        assert!((r.ratio - g.per_sec / e.per_sec).abs() < 1e-9, "{r:?}");
    }
    // Passes and takes told app B; the sink answered every delivery.
    assert!(f.webhooks_received > 0);
    assert!(f.webhook_connections >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_keeps_the_silent_apps_queue_bounded() {
    let cfg = SoakConfig {
        duration: Duration::from_secs(2),
        clients: 8,
        queue_capacity: 20,
    };
    let max_batch = DeliveryConfig::default().max_batch as u64;
    let f = soak(&cfg).await;
    assert_eq!(f.unexpected, 0, "{:?}", f.first_unexpected);
    assert!(f.graph_calls > 0 && f.graph_per_sec > 0.0);
    assert_eq!(
        f.graph_calls % 8,
        0,
        "clients finish their rounds of 8 Graph calls"
    );
    assert_eq!(
        f.user_events * 8,
        f.graph_calls,
        "one user message per round"
    );
    assert!(f.graph_p50_us <= f.graph_p99_us && f.graph_p99_us <= f.graph_max_us);

    // Every user message (the rounds' and the setup's one per client) was
    // pushed to the silent app's queue, which never held more than its
    // capacity; the rest was given up on at once. The receiver got
    // connections and bytes and answered nothing, so nothing was delivered,
    // and within the 5 s timeout no batch can have been given up on yet.
    assert_eq!(f.silent_enqueued, f.user_events + cfg.clients as u64);
    assert!(f.silent_queued_max <= cfg.queue_capacity, "{f:?}");
    assert!(
        f.silent_enqueued > cfg.queue_capacity as u64 + max_batch,
        "too few events to fill the queue: {}",
        f.silent_enqueued
    );
    assert!(f.silent_given_up > 0);
    assert!(f.silent_enqueued - f.silent_given_up <= cfg.queue_capacity as u64 + max_batch);
    assert_eq!(f.silent_delivered, 0);
    assert!(
        f.silent_connections >= 1 && f.silent_bytes_read > 0,
        "{f:?}"
    );
    assert!(f.webhooks_answered > 0);

    // Memory samples, once a second and at the end.
    assert!(f.samples.len() >= 2, "{:?}", f.samples);
    assert!(f.samples.windows(2).all(|w| w[0].at_s <= w[1].at_s));
    assert!(
        f.samples
            .iter()
            .all(|s| s.silent_queued <= cfg.queue_capacity)
    );
    assert_eq!(f.samples.last().map(|s| s.graph_calls), Some(f.graph_calls));
    if cfg!(target_os = "linux") {
        let after = f.memory_after.expect("VmRSS and VmHWM");
        assert!(f.samples.iter().all(|s| s.memory.is_some()));
        assert!(after.rss_kib > 0 && after.peak_kib >= after.rss_kib);
        assert_eq!(f.peak_rss_kib(), Some(after.peak_kib));
        assert!(f.rss_growth_second_half_kib().is_some());
    }
}

fn baton(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .output()
        .expect("run baton")
}

#[test]
fn cli_prints_the_figures() {
    let out = baton(&["bench", "server", "--seconds", "0.5", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["runs"].as_array().map(Vec::len), Some(5));
    assert_eq!(v["ratios"].as_array().map(Vec::len), Some(3));

    let out = baton(&["bench", "server", "--seconds", "0.5"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("graph/echo, 32 clients, one shared page: "),
        "{text}"
    );
    assert!(
        text.contains("graph/echo with 32 clients at least 0.60 in every layout: "),
        "{text}"
    );

    let out = baton(&["bench", "soak", "--seconds", "1", "--clients", "4"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("4 clients for "), "{text}");
    assert!(text.contains("p99 under 50 ms: "), "{text}");

    for bad in [
        &["bench", "server", "--seconds", "0"][..],
        &["bench", "soak", "--seconds", "-1"],
        &["bench", "soak", "--clients", "0"],
    ] {
        assert_eq!(baton(bad).status.code(), Some(2), "{bad:?}");
    }
}
