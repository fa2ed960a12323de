//! `baton app`: the reference app (a well-behaved handover bot) on a port,
//! until Ctrl-C.

use super::{app_mutants, runtime, usage};
use baton::app::{
    AppConfig, AppMutant, DEFAULT_APP_ID, DEFAULT_SECRET, DEFAULT_TOKEN, DEFAULT_VERIFY_TOKEN,
    DEFAULT_VERSION, PAGE_INBOX_APP_ID, RunningApp,
};
use std::process::ExitCode;
use std::sync::Arc;

const AFTER_HELP: &str = "\
What it does: answers users while it owns a thread, offering \"Talk to a person\";
passes to the Page Inbox (263902037430900) when asked for a person; passes to any app
that requests control, earliest first; says goodbye and releases on \"bye\"/\"thanks\";
asks thread_owner whenever it is unsure (standby events, lapsed control); requests
control (takes it only as primary receiver) before talking on an idle thread; checks
X-Hub-Signature-256 and ignores retried deliveries. See the README, \"The reference
app: a well-behaved handover bot\".

Against baton serve (two terminals):
  baton serve --port 8080 --key K
  baton app --port 3000 --graph http://127.0.0.1:8080
then reset a page whose app has app_id 1001, access_token reference-app-token,
app_secret reference-app-secret and webhook_url http://127.0.0.1:3000/webhook
(the defaults), and drive users through /conformance. The handshake's default
verify token is reference-app-verify-token, the one baton certify-app assumes.

Only http:// Graph origins are supported (no TLS).

Exit codes:
  0  stopped with Ctrl-C, or --list-app-mutants
  2  usage error, or the address cannot be bound";

#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct AppArgs {
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Address to bind. Keep the loopback default unless the platform runs on another host.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Graph API origin, e.g. http://127.0.0.1:8080 (where `baton serve` listens).
    #[arg(long, value_name = "URL", required_unless_present = "list_app_mutants")]
    graph: Option<String>,
    /// Graph API version in the paths (empty: none).
    #[arg(long = "version", value_name = "VERSION", default_value = DEFAULT_VERSION)]
    graph_version: String,
    /// The app's id.
    #[arg(long, env = "BATON_APP_ID", default_value = DEFAULT_APP_ID)]
    app_id: String,
    /// The page access token [default: reference-app-token].
    #[arg(long, env = "BATON_APP_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The app secret (webhook signatures, appsecret_proof) [default: reference-app-secret].
    #[arg(long, env = "BATON_APP_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// The webhook verify token the handshake checks (APP-5); the default is the one
    /// `baton certify-app` assumes [default: reference-app-verify-token].
    #[arg(long, env = "BATON_VERIFY_TOKEN", hide_env_values = true)]
    verify_token: Option<String>,
    /// The app has the human-agent feature (the bot still never uses the HUMAN_AGENT tag).
    #[arg(long)]
    human_agent: bool,
    /// Switch on a deliberate fault (repeatable); see --list-app-mutants.
    #[arg(long = "app-mutant", value_name = "NAME")]
    app_mutants: Vec<String>,
    /// Print every app mutant with the rule it breaks, and exit.
    #[arg(long)]
    list_app_mutants: bool,
}

pub fn app(args: AppArgs) -> ExitCode {
    if args.list_app_mutants {
        for m in AppMutant::ALL {
            println!("{:<24} {:<6} {}", m.name(), m.rule().id(), m.description());
        }
        return ExitCode::SUCCESS;
    }
    let mutants = match app_mutants(&args.app_mutants) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let graph = args.graph.unwrap_or_default();
    if !graph.starts_with("http://") || graph.len() <= "http://".len() {
        return usage(format!(
            "--graph {graph:?} must be an http:// origin such as http://127.0.0.1:8080"
        ));
    }
    let nonempty = |name: &str, v: Option<String>, default: &str| match v {
        Some(v) if v.is_empty() => Err(usage(format!("{name} must not be empty"))),
        Some(v) => Ok(v),
        None => Ok(default.to_string()),
    };
    let token = match nonempty("--token", args.token, DEFAULT_TOKEN) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let secret = match nonempty("--secret", args.secret, DEFAULT_SECRET) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if args.app_id.is_empty() || args.app_id == PAGE_INBOX_APP_ID {
        return usage(format!(
            "--app-id {:?} must be a non-empty id other than the Page Inbox's",
            args.app_id
        ));
    }
    let verify_token = match nonempty("--verify-token", args.verify_token, DEFAULT_VERIFY_TOKEN) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let defaults =
        token == DEFAULT_TOKEN || secret == DEFAULT_SECRET || verify_token == DEFAULT_VERIFY_TOKEN;
    let cfg = AppConfig {
        graph: graph.trim_end_matches('/').to_string(),
        version: args.graph_version,
        app_id: args.app_id,
        token,
        secret,
        verify_token: Some(verify_token),
        human_agent: args.human_agent,
        mutants,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let addr = std::net::SocketAddr::new(args.bind, args.port);
        println!("app id: {}", cfg.app_id);
        println!("graph: {}/{}", cfg.graph, cfg.version);
        if defaults {
            println!("credentials: the defaults of --help (for local testing only)");
        }
        for m in &cfg.mutants {
            println!("app mutant on: {} (breaks {})", m.name(), m.rule().id());
        }
        let log: baton::app::Log = Arc::new(|line: String| println!("{line}"));
        let app = match RunningApp::start_logged(cfg, addr, Some(log)).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e} (is the port in use? try --port 0 for any free port)");
                return ExitCode::from(2);
            }
        };
        println!("webhook: {}", app.webhook_url());
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
        app.stop().await;
        ExitCode::SUCCESS
    })
}
