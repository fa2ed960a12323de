//! `baton bench`: baton's own speed, every figure against a baseline
//! measured in the same run. The measuring is in `baton::bench`.

use super::runtime;
use clap::Subcommand;
use std::process::ExitCode;
use std::time::Duration;

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
pub struct BenchArgs {
    #[command(subcommand)]
    what: Option<BenchWhat>,
    /// Time per measured figure (the server bench in all, each `baton run`
    /// configuration, the model), like 5s or 500ms.
    #[arg(long, value_name = "DUR", value_parser = super::parse_duration, default_value = "5s")]
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

#[derive(Subcommand)]
pub enum BenchWhat {
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

/// `baton bench [model|server|soak]`.
pub fn bench(args: BenchArgs) -> ExitCode {
    match args.what {
        Some(what) => part(what),
        None => all(args),
    }
}

fn part(what: BenchWhat) -> ExitCode {
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
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
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
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
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

fn all(args: BenchArgs) -> ExitCode {
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
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
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
