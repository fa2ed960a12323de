//! A real SDK bot certified by `cargo test`: `tests/clients/sdk_bot.mjs`, a
//! small webhook bot written with the npm `messaging-api-messenger` client
//! (pinned in `tests/clients/package.json`), is started with Node and
//! certified on the rules for apps (BP-1..6, APP-1..6) through the library
//! entry point of `baton certify-app`. It must conform, and must really have
//! been reached: it received signed deliveries and made Graph calls that the
//! platform answered and judged.
//!
//! Needs Node.js >= 18 and `npm ci --prefix tests/clients` (`.ci/run` does
//! it). Without `tests/clients/node_modules` the test is skipped with a
//! message, except under CI (`CI` set), where that fails. `BATON_SEED`
//! (default 1, printed) and `BATON_CASES` (default 24) choose the cases.

use baton::app::DEFAULT_APP_ID;
use baton::certify::reference::fixed_port;
use baton::certify::{AppIdentity, CertifyConfig, certify};
use baton::model::Rule;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

// The bot's credentials: not the printed defaults, so that the test shows
// the bot takes them from the environment. None of them may be printed.
const TOKEN: &str = "sdk-bot-token-not-printed";
const SECRET: &str = "sdk-bot-secret-not-printed";
const VERIFY_TOKEN: &str = "sdk-bot-verify-not-printed";

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} must be a whole number")),
        _ => default,
    }
}

/// Whether the pinned SDK is installed; when not, skips the test with a
/// message, or fails it under CI.
fn sdk_installed() -> bool {
    let sdk = clients_dir().join("node_modules/messaging-api-messenger/package.json");
    let node = Command::new("node").arg("--version").output();
    let problem = match (&node, sdk.exists()) {
        (Ok(o), true) if o.status.success() => return true,
        (Ok(o), _) if o.status.success() => format!(
            "{} is missing: run `npm ci --prefix tests/clients` (needs npm and the npm registry)",
            sdk.display()
        ),
        _ => "Node.js (>= 18) is not installed: install it (e.g. `apt-get install nodejs npm`), then run `npm ci --prefix tests/clients`".to_string(),
    };
    if std::env::var_os("CI").is_some() {
        panic!("the SDK bot cannot run under CI: {problem}");
    }
    eprintln!("SKIPPED tests/sdk_bot.rs: {problem}");
    false
}

/// The bot as a child process; killed when dropped. Its output is kept.
struct Bot {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    ready: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Bot {
    fn start(graph: SocketAddr) -> Bot {
        let mut cmd = Command::new("node");
        cmd.arg("sdk_bot.mjs")
            .arg(format!("http://{graph}"))
            .arg("0")
            .current_dir(clients_dir())
            .env("BATON_APP_TOKEN", TOKEN)
            .env("BATON_APP_SECRET", SECRET)
            .env("BATON_VERIFY_TOKEN", VERIFY_TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // axios honours proxy variables; the bot talks to loopback only.
        for v in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(v);
        }
        let mut child = cmd.spawn().expect("start node tests/clients/sdk_bot.mjs");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, ready) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("webhook: ") {
                    let _ = tx.send(url.to_string());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let kept = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            kept.lock().unwrap().push_str(&s);
        });
        Bot {
            child,
            lines,
            ready,
            stderr,
        }
    }

    fn webhook(&self) -> String {
        self.ready
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| {
                panic!(
                    "the SDK bot printed no webhook line ({e}):\n{}",
                    self.transcript()
                )
            })
    }

    fn output(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn transcript(&self) -> String {
        format!(
            "--- bot stdout ---\n{}\n--- bot stderr ---\n{}",
            self.output().join("\n"),
            self.stderr.lock().unwrap()
        )
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_bot_is_certified() {
    if !sdk_installed() {
        return;
    }
    let seed = number("BATON_SEED", 1);
    let cases = number("BATON_CASES", 24);
    let graph = fixed_port(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let bot = Bot::start(graph);
    let webhook = bot.webhook();
    println!(
        "certifying tests/clients/sdk_bot.mjs at {webhook}, Graph API http://{graph}, seed {seed}, {cases} cases (BATON_SEED, BATON_CASES)"
    );
    let identity = AppIdentity {
        app_id: DEFAULT_APP_ID.into(),
        token: TOKEN.into(),
        secret: SECRET.into(),
        verify_token: Some(VERIFY_TOKEN.into()),
        human_agent: false,
    };
    let dir = std::env::temp_dir().join(format!("baton-sdk-bot-{}", std::process::id()));
    let mut cfg = CertifyConfig::new(webhook, identity);
    cfg.label = "the SDK bot".into();
    cfg.bind = graph;
    cfg.seed = seed;
    cfg.cases = cases;
    cfg.out_dir = dir.join("counterexamples");
    cfg.snapshot_dir = dir.join("snapshots");
    let run = match certify(cfg).await {
        Ok(r) => r,
        Err(e) => panic!(
            "seed {seed}: the certification could not be carried out (exit code {}): {e}\n{}",
            e.exit_code(),
            bot.transcript()
        ),
    };
    let summary = run.summary();
    println!("{summary}");
    let out = bot.output();
    let transcript = bot.transcript();
    drop(bot);
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(
        run.exit_code(),
        0,
        "seed {seed}: the SDK bot does not conform:\n{summary}\n{transcript}"
    );
    assert!(
        run.counterexamples.is_empty(),
        "seed {seed}: even SHOULD deviations are bugs of the bot:\n{summary}\n{transcript}"
    );
    assert_eq!(run.cases, cases, "every case ran");
    // It was really reached: the platform judged deliveries and calls.
    assert!(
        run.rule_counts.get(Rule::App1) > 0,
        "seed {seed}: no delivery was judged (APP-1): {summary}"
    );
    assert!(
        run.rule_counts.get(Rule::App6) > 0,
        "seed {seed}: no Graph call of the bot was judged (APP-6): {summary}"
    );
    for rule in [Rule::Bp2, Rule::Bp4, Rule::App2, Rule::App4, Rule::App5] {
        assert!(
            run.exercised.contains(rule),
            "seed {seed}: {rule} was never exercised: {summary}"
        );
    }
    // And the bot says so itself: signed deliveries in, calls answered.
    let count = |f: &dyn Fn(&str) -> bool| out.iter().filter(|l| f(l)).count();
    let deliveries = count(&|l| l.starts_with("delivery: "));
    let sends = count(&|l| l.contains(": send -> ok"));
    let passes = count(&|l| l.contains(": pass_thread_control to ") && l.ends_with("-> ok"));
    let forged = count(&|l| l.starts_with("delivery refused: "));
    let failed = count(&|l| l.contains("-> failed"));
    println!(
        "the bot: {deliveries} deliveries, {sends} sends, {passes} passes, {forged} forged deliveries refused, {failed} failed calls"
    );
    assert!(deliveries > 0, "no delivery reached the bot:\n{transcript}");
    assert!(sends > 0, "the bot never replied:\n{transcript}");
    assert!(
        passes > 0,
        "the bot never passed to a requester:\n{transcript}"
    );
    assert!(
        forged > 0,
        "no forged delivery was refused (APP-2):\n{transcript}"
    );
    assert_eq!(failed, 0, "calls of the bot failed:\n{transcript}");
    for secret in [TOKEN, SECRET, VERIFY_TOKEN] {
        assert!(
            !transcript.contains(secret) && !summary.contains(secret),
            "a credential was printed"
        );
    }
}
