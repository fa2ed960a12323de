//! The `baton` command line: a thin shell over the library.

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
    /// Measure baton's own speed.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
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
        Command::Bench {
            what:
                BenchWhat::Model {
                    seconds,
                    seed,
                    json,
                },
        } => {
            if !(seconds.is_finite() && seconds > 0.0) {
                eprintln!("error: --seconds must be a positive number");
                return ExitCode::from(2);
            }
            let f = baton::bench::model(seed, Duration::from_secs_f64(seconds));
            if json {
                println!("{}", serde_json::to_string_pretty(&f).expect("plain JSON"));
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
            ExitCode::SUCCESS
        }
    }
}
