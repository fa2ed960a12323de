//! Real SDK clients against the reference server.
//!
//! Each test starts the reference server in-process on an ephemeral port and
//! runs one client script from `tests/clients/` against it:
//!
//! - `npm_client.mjs`: the npm `messaging-api-messenger` client (JSON bodies,
//!   `/me/...` paths, `appsecret_proof` in the query string);
//! - `python_client.py`: Meta's Python `facebook-business` SDK (form-encoded
//!   bodies with JSON-encoded object values, `/{page-id}/...` paths).
//!
//! Each script runs its own webhook sink and checks answers, errors and
//! signed webhooks step by step; it exits 0 only when every check passed.
//! Both drive a Messenger thread and then an Instagram thread (an IGSID on
//! the page's linked Instagram account): `"object":"instagram"` deliveries,
//! a pass to the Instagram Inbox, `thread_owner` on the IGSID, a standby
//! delivery while the Instagram Inbox owns, and control back to the primary.
//!
//! Dependencies: `.ci/run` installs them (`npm ci --prefix tests/clients`,
//! and a venv at `tests/clients/.venv` from `requirements.txt`). When they
//! are missing (a fresh clone), the tests install them first, which needs
//! Node.js >= 18 with npm, and Python 3 with venv, and the package
//! registries.

use baton::server::{RunningServer, ServerConfig};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The longest a client script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest an install (`npm ci`, `pip install`) may run.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// What a finished child process printed.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Finished {
    fn transcript(&self) -> String {
        format!(
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to its end, or kills it after `timeout`. `Err` when it could
/// not be started (the program is not installed) or timed out.
fn run(cmd: &mut Command, timeout: Duration) -> Result<Finished, String> {
    let what = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Everything the scripts talk to is on the loopback interface.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    // Read both pipes on their own threads so a chatty child never blocks.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                let stdout = out.join().unwrap_or_default();
                let stderr = err.join().unwrap_or_default();
                return Err(format!(
                    "{what} did not finish within {timeout:?}; killed it\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    };
    Ok(Finished {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    })
}

/// Runs an install or probe step that must succeed, or panics with `hint`.
fn must(cmd: &mut Command, timeout: Duration, hint: &str) -> Finished {
    match run(cmd, timeout) {
        Ok(f) if f.status.success() => f,
        Ok(f) => panic!("{cmd:?} failed; {hint}\n{}", f.transcript()),
        Err(e) => panic!("{e}\n{hint}"),
    }
}

/// Starts the reference server, runs `client` with its URL and key, stops
/// the server, and fails the test (with the client's output) unless the
/// client exited 0.
fn against_server(name: &str, client: impl FnOnce(&str, &str) -> Command) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let key = baton::server::generate_key();
    let server = rt
        .block_on(RunningServer::start(
            ServerConfig::new(key.clone()),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .expect("the reference server starts on an ephemeral port");
    let url = server.url();
    // The server runs on the runtime's worker threads while this thread
    // waits for the client.
    let result = run(&mut client(&url, &key), SCRIPT_TIMEOUT);
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(10), server.stop()).await;
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(f) if f.status.success() => {
            println!("{name}: passed in {:.2?}\n{}", f.elapsed, f.stdout);
        }
        Ok(f) => panic!(
            "the {name} client failed against the reference server at {url}\n{}",
            f.transcript()
        ),
        Err(e) => panic!("the {name} client against {url}: {e}"),
    }
}

// ------------------------------------------------------------------- npm

const NODE_HINT: &str = "these tests need Node.js >= 18 with npm (CI has Node 20): \
     install them (e.g. `apt-get install nodejs npm`), then run `npm ci --prefix tests/clients`";

/// Checks Node is there and recent enough; installs `node_modules` from the
/// committed lock file when it is missing or not what the lock file pins.
fn ensure_npm_deps(dir: &Path) {
    let v = must(
        Command::new("node").arg("--version"),
        Duration::from_secs(30),
        NODE_HINT,
    );
    let major: u32 = v
        .stdout
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 18,
        "node {} is too old (fetch, AbortSignal.timeout); {NODE_HINT}",
        v.stdout.trim()
    );
    let installed =
        std::fs::read_to_string(dir.join("node_modules/messaging-api-messenger/package.json"))
            .unwrap_or_default();
    if !installed.contains("\"version\": \"1.1.0\"") {
        eprintln!("tests/clients/node_modules is missing or stale: running npm ci");
        must(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(dir),
            INSTALL_TIMEOUT,
            NODE_HINT,
        );
    }
}

#[test]
fn npm_messaging_api_messenger_client() {
    let dir = clients_dir();
    ensure_npm_deps(&dir);
    against_server("npm messaging-api-messenger", |url, key| {
        let mut cmd = Command::new("node");
        cmd.arg("npm_client.mjs")
            .arg(url)
            .arg(key)
            .current_dir(&dir);
        cmd
    });
}

// ---------------------------------------------------------------- Python

const PYTHON_HINT: &str = "this test needs Python 3 with the venv module \
     (e.g. `apt-get install python3 python3-venv`); .ci/run installs the SDK with \
     `python3 -m venv tests/clients/.venv && tests/clients/.venv/bin/pip install -r tests/clients/requirements.txt`";

/// Creates `tests/clients/.venv` and installs the pinned requirements when
/// the venv is missing or was installed from other requirements.
fn ensure_python_deps(dir: &Path) -> PathBuf {
    let venv = dir.join(".venv");
    let python = venv.join("bin/python");
    let requirements = std::fs::read_to_string(dir.join("requirements.txt"))
        .expect("tests/clients/requirements.txt");
    let marker = venv.join("installed-requirements.txt");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(requirements.as_str())
        && python.exists()
    {
        return python;
    }
    if !python.exists() {
        eprintln!("tests/clients/.venv is missing: creating it");
        must(
            Command::new("python3")
                .args(["-m", "venv", ".venv"])
                .current_dir(dir),
            INSTALL_TIMEOUT,
            PYTHON_HINT,
        );
    }
    eprintln!("installing tests/clients/requirements.txt into tests/clients/.venv");
    must(
        Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--disable-pip-version-check",
                "-q",
                "-r",
                "requirements.txt",
            ])
            .current_dir(dir),
        INSTALL_TIMEOUT,
        PYTHON_HINT,
    );
    std::fs::write(&marker, requirements).expect("write the venv's requirements marker");
    python
}

#[test]
fn python_facebook_business_sdk() {
    let dir = clients_dir();
    let python = ensure_python_deps(&dir);
    against_server("Python facebook-business", |url, key| {
        let mut cmd = Command::new(&python);
        cmd.arg("python_client.py")
            .arg(url)
            .arg(key)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(&dir);
        cmd
    });
}
