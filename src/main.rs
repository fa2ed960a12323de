//! The `baton` command line: a thin shell over the library.

mod cli;

use baton::model::{Level, Rule};
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::time::Duration;

/// Conformance testing for implementations of the Messenger Handover Protocol.
#[derive(Parser)]
#[command(name = "baton", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every rule of the protocol with its ID, level and summary.
    Rules {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Certify an implementation: random cases against it, diffed with the
    /// model; failures shrunk to minimal counterexamples.
    Run(Box<cli::RunArgs>),
    /// Play a saved counterexample again.
    Replay(cli::ReplayArgs),
    /// Turn a fuzzer crash input into a shrunk, replayable counterexample.
    FuzzImport(cli::fuzz::ImportArgs),
    /// Write small seed corpora for the fuzz targets (fuzz/corpus/<target>/).
    FuzzCorpus(cli::fuzz::CorpusArgs),
    /// Run the reference platform: the Graph API and the control API on one
    /// port, with signed webhook delivery.
    ///
    /// Point an SDK at http://ADDR:PORT as its Graph API origin; drive users,
    /// the Page Inbox and the clock through /conformance with the key.
    Serve(ServeArgs),
    /// Measure baton's own speed: without a subcommand, every figure side
    /// by side against the loopback limit, in one run.
    Bench(BenchArgs),
}

/// `baton bench`: with no subcommand, measures in one run and prints side by
/// side (1) the loopback limit, a raw axum JSON echo driven by reqwest with 1
/// and 32 connections; (2) the reference server's Graph calls/s with 1 and 32
/// clients and their ratio to (1); (3) `baton run` against the reference
/// server with --jobs 1 and the default: cases/s, steps/s and HTTP requests/s
/// (the harness's own and the server's webhook POSTs), and the default's
/// requests/s over the 32-connection echo rate, the harness efficiency; (4)
/// model operations/s on one core; (5) time to detect and shrink each mutant,
/// median over seeds.
#[derive(clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Regenerating the README's Performance section:\n  baton bench --json > bench.json\n  baton bench --from bench.json --markdown"
)]
struct BenchArgs {
    #[command(subcommand)]
    what: Option<BenchWhat>,
    /// Time per measured figure (the server bench in all, each `baton run`
    /// configuration, the model), like 5s or 500ms.
    #[arg(long, value_name = "DUR", value_parser = cli::parse_duration, default_value = "5s")]
    duration: Duration,
    /// Seeds per mutant for the detect and shrink medians (0: skip the mutants).
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Print the README's Performance figures (Markdown) instead of a table.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Measure nothing: print the figures of an earlier `baton bench --json`.
    #[arg(long, value_name = "FILE")]
    from: Option<std::path::PathBuf>,
}

#[derive(clap::Args)]
struct ServeArgs {
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
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Model operations per second on one core, over random cases.
    Model {
        /// How long to measure, in seconds.
        #[arg(long, default_value_t = 4.0)]
        seconds: f64,
        /// Seed of the random cases.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Graph calls per second against the reference server over loopback,
    /// with 1 and 32 clients, beside a raw axum echo endpoint measured in
    /// the same run.
    Server {
        /// How long to measure in all, in seconds (split over the
        /// configurations, in interleaved rounds).
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Latency and memory under sustained load while one app's webhook
    /// receiver never answers.
    Soak {
        /// How long to run, in seconds.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Rules { json } => {
            if json {
                let rows: Vec<_> = Rule::ALL
                    .iter()
                    .map(|r| serde_json::json!({"id": r.id(), "level": r.level().as_str(), "summary": r.summary()}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).expect("plain JSON")
                );
            } else {
                for r in Rule::ALL {
                    let level = if r.level() == Level::Must {
                        "MUST  "
                    } else {
                        "SHOULD"
                    };
                    println!("{:<9} {level} {}", r.id(), r.summary());
                }
            }
            ExitCode::SUCCESS
        }
        Command::Serve(args) => serve(args),
        Command::Run(args) => cli::run(*args),
        Command::Replay(args) => cli::replay(args),
        Command::FuzzImport(args) => cli::fuzz::import(args),
        Command::FuzzCorpus(args) => cli::fuzz::corpus(args),
        Command::Bench(args) => match args.what {
            Some(what) => bench(what),
            None => bench_all(args),
        },
    }
}

fn bench(what: BenchWhat) -> ExitCode {
    let seconds = match &what {
        BenchWhat::Model { seconds, .. }
        | BenchWhat::Server { seconds, .. }
        | BenchWhat::Soak { seconds, .. } => *seconds,
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        eprintln!("error: --seconds must be a positive number");
        return ExitCode::from(2);
    }
    let duration = Duration::from_secs_f64(seconds);
    match what {
        BenchWhat::Model { seed, json, .. } => {
            let f = baton::bench::model(seed, duration);
            if json {
                print_json(&f);
            } else {
                println!(
                    "model: {:.0} operations/s on one core ({} ops x {} rounds, seed {})",
                    f.ops_per_sec, f.ops, f.rounds, f.seed
                );
                println!(
                    "baseline (clone each op): {:.0} ops/s; model/baseline = {:.3}",
                    f.baseline_ops_per_sec, f.ratio_to_baseline
                );
            }
        }
        BenchWhat::Server { json, .. } => {
            let Some(rt) = runtime() else {
                return ExitCode::from(1);
            };
            let f = rt.block_on(baton::bench::server(duration));
            if json {
                print_json(&f);
            } else {
                print!("{}", baton::bench::server_table(&f));
            }
            if f.runs.iter().any(|r| r.unexpected > 0) {
                eprintln!("error: some requests got an unexpected answer");
                return ExitCode::from(1);
            }
        }
        BenchWhat::Soak { clients, json, .. } => {
            if clients == 0 {
                eprintln!("error: --clients must be at least 1");
                return ExitCode::from(2);
            }
            let Some(rt) = runtime() else {
                return ExitCode::from(1);
            };
            let cfg = baton::bench::SoakConfig {
                duration,
                clients,
                ..Default::default()
            };
            let f = rt.block_on(baton::bench::soak(&cfg));
            if json {
                print_json(&f);
            } else {
                print!("{}", baton::bench::soak_report(&f));
            }
            if f.unexpected > 0 {
                eprintln!("error: some requests got an unexpected answer");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

fn bench_all(args: BenchArgs) -> ExitCode {
    let figures = match &args.from {
        Some(path) => {
            let parsed = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()));
            match parsed {
                Ok(f) => f,
                Err(e) => {
                    eprintln!(
                        "error: {}: not the output of `baton bench --json`: {e}",
                        path.display()
                    );
                    return ExitCode::from(2);
                }
            }
        }
        None => {
            let Some(rt) = runtime() else {
                return ExitCode::from(1);
            };
            let cfg = baton::bench::AllConfig {
                duration: args.duration,
                seeds: args.seeds,
                ..Default::default()
            };
            let progress = |what: &str| eprintln!("measuring {what}");
            match rt.block_on(baton::bench::all(&cfg, &progress)) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    };
    if args.json {
        print_json(&figures);
    } else if args.markdown {
        print!("{}", baton::bench::markdown(&figures));
    } else {
        print!("{}", baton::bench::table(&figures));
    }
    ExitCode::SUCCESS
}

fn print_json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("plain JSON"));
}

/// The multi-threaded runtime, one worker per core.
fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    use baton::server::{Mutant, Mutants, RunningServer, ServerConfig, generate_key};
    if args.list_mutants {
        for m in Mutant::ALL {
            println!("{:<26} {:<9} {}", m.name(), m.rule().id(), m.description());
        }
        return ExitCode::SUCCESS;
    }
    let mut mutants = Vec::new();
    for name in &args.mutants {
        match Mutant::parse(name) {
            Some(m) => mutants.push(m),
            None => {
                eprintln!(
                    "error: unknown mutant {name:?}; known mutants: {}",
                    Mutant::names()
                );
                return ExitCode::from(2);
            }
        }
    }
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
    let mut config = ServerConfig::new(key);
    config.mutants = Mutants::new(mutants);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
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
        println!("listening on {}", server.url());
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
        server.stop().await;
        ExitCode::SUCCESS
    })
}
