//! `baton serve`: the reference platform on a port, until Ctrl-C.

use super::{mutants, runtime};
use baton::server::{Mutant, Mutants, RunningServer, ServerConfig, generate_key};
use baton::wire::control::ALL_FEATURES;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind. Keep the loopback default unless other hosts must reach the server.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Control API key (X-Conformance-Key). Without it a random key is generated and printed once.
    #[arg(long, env = "BATON_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Switch on a deliberate bug (repeatable); see --list-mutants.
    #[arg(long = "mutant", value_name = "NAME")]
    mutants: Vec<String>,
    /// Print every mutant with the rule it breaks, and exit.
    #[arg(long)]
    list_mutants: bool,
    /// Leave this feature out of `info` (repeatable), to play a target that
    /// lacks it, e.g. `instagram`; see the control API's feature list.
    #[arg(long = "hide-feature", value_name = "FEATURE")]
    hide_features: Vec<String>,
}

pub fn serve(args: ServeArgs) -> ExitCode {
    if args.list_mutants {
        for m in Mutant::ALL {
            println!("{:<26} {:<9} {}", m.name(), m.rule().id(), m.description());
        }
        return ExitCode::SUCCESS;
    }
    let mutants = match mutants(&args.mutants) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let key = match args.key {
        Some(k) if k.is_empty() => {
            eprintln!("error: --key must not be empty");
            return ExitCode::from(2);
        }
        Some(k) => k,
        None => {
            let k = generate_key();
            println!("control key (X-Conformance-Key): {k}");
            k
        }
    };
    if let Some(f) = args
        .hide_features
        .iter()
        .find(|f| !ALL_FEATURES.contains(&f.as_str()))
    {
        eprintln!(
            "error: --hide-feature {f:?} is not a feature of the control API; features: {}",
            ALL_FEATURES.join(", ")
        );
        return ExitCode::from(2);
    }
    let mut config = ServerConfig::new(key);
    config.mutants = Mutants::new(mutants);
    config.hidden_features = args.hide_features;
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let addr = std::net::SocketAddr::new(args.bind, args.port);
        let server = match RunningServer::start(config, addr).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e} (is the port in use? try --port 0 for any free port)");
                return ExitCode::from(2);
            }
        };
        for m in server.platform.config().mutants.list() {
            println!("mutant on: {} (breaks {})", m.name(), m.rule().id());
        }
        // The console's line comes before "listening on", which stays the
        // last line (the one scripts wait for).
        if let Some(path) = server.platform.console_login_path() {
            println!("console (login link, works once): {}{path}", server.url());
        }
        println!("listening on {}", server.url());
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
        server.stop().await;
        ExitCode::SUCCESS
    })
}
