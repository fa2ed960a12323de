//! The `baton` command line: a thin shell over the library.

mod cli;

use baton::model::{Level, Rule};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc instead of the system allocator (see [`baton::alloc`]).
#[global_allocator]
static ALLOC: baton::alloc::MiMalloc = baton::alloc::MiMalloc;

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
    Run(Box<cli::run::RunArgs>),
    /// Play a saved counterexample again.
    Replay(cli::run::ReplayArgs),
    /// Turn a fuzzer crash input into a shrunk, replayable counterexample.
    FuzzImport(cli::fuzz::ImportArgs),
    /// Write small seed corpora for the fuzz targets (fuzz/corpus/<target>/).
    FuzzCorpus(cli::fuzz::CorpusArgs),
    /// Run the reference platform: the Graph API and the control API on one
    /// port, with signed webhook delivery.
    ///
    /// Point an SDK at http://ADDR:PORT as its Graph API origin; drive users,
    /// the Page Inbox and the clock through /conformance with the key.
    Serve(cli::serve::ServeArgs),
    /// Run the reference app: a well-behaved handover bot (customer
    /// support) that receives webhooks and calls a Graph API.
    ///
    /// Point a page's webhook at the printed URL and the bot's Graph origin
    /// (--graph) at `baton serve`; a working example to start a bot from.
    App(cli::app::AppArgs),
    /// Certify an app (a bot or a live-agent tool) against the rules for
    /// apps: baton plays the platform, the users, the Page Inbox and the
    /// other apps; without --webhook it certifies its own reference app.
    CertifyApp(Box<cli::certify::CertifyArgs>),
    /// Measure baton's own speed: without a subcommand, every figure side
    /// by side against the loopback limit, in one run.
    Bench(cli::bench::BenchArgs),
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
        Command::Serve(args) => cli::serve::serve(args),
        Command::App(args) => cli::app::app(args),
        Command::Run(args) => cli::run::run(*args),
        Command::Replay(args) => cli::run::replay(args),
        Command::FuzzImport(args) => cli::fuzz::import(args),
        Command::FuzzCorpus(args) => cli::fuzz::corpus(args),
        Command::Bench(args) => cli::bench::bench(args),
        Command::CertifyApp(args) => cli::certify::certify_app(*args),
    }
}
