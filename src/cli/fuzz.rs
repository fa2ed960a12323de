//! `baton fuzz-import` and `baton fuzz-corpus`: the bridge between the
//! cargo-fuzz targets under `fuzz/` and the harness's counterexamples.

use super::{mutants, runtime};
use baton::fuzzing::{FuzzPage, HttpInput, InProcess, case_from_bytes, check_model};
use baton::generate::{self, CASE_PAGE_ID, GenConfig, SplitMix64};
use baton::harness::shrink::Budget;
use baton::model::{Op, Setup};
use baton::server::Mutants;
use baton::wire::control::{ControlRequest, ResetRequest};
use baton::wire::render_graph;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Turn a fuzzer crash input into a shrunk, replayable counterexample.
#[derive(clap::Args)]
#[command(
    after_help = "The input is decoded exactly as the `differential` and `model_ops` fuzz targets decode it \
(baton::fuzzing::case_from_bytes: libFuzzer's bytes through the generator), played against the embedded \
reference server by the harness, shrunk and written like a `baton run` counterexample.\n\n\
Exit codes:\n  0  a counterexample was written\n  1  the input does not reproduce as a divergence \
(a model_ops crash is reported, not written)\n  2  usage error or unreadable file"
)]
pub struct ImportArgs {
    /// The crash (or any) input file, e.g. fuzz/artifacts/differential/crash-….
    file: PathBuf,
    /// Switch on a deliberate bug in the embedded server (repeatable), e.g.
    /// send-non-owner for a crash found with the fuzz crate's
    /// `mutant-send-non-owner` feature.
    #[arg(long = "mutant", value_name = "NAME")]
    mutants: Vec<String>,
    /// Where to write `<rule>-<hash>.json`.
    #[arg(long, default_value = "baton-out")]
    out: PathBuf,
    /// Where to write the insta snapshot [default: <out>/snapshots].
    #[arg(long)]
    snapshots: Option<PathBuf>,
    /// Most replays while shrinking.
    #[arg(long, default_value_t = 3000)]
    max_replays: u32,
}

/// Write small seed corpora for the fuzz targets.
#[derive(clap::Args)]
pub struct CorpusArgs {
    /// The corpus root; one directory per target is written below it.
    #[arg(default_value = "fuzz/corpus")]
    dir: PathBuf,
    /// Random generated inputs per sequence target.
    #[arg(long, default_value_t = 24)]
    random: u32,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory of the scripted scenarios.
    #[arg(long, default_value = "fixtures/scenarios")]
    scenarios: PathBuf,
    /// Directory of the wire fixtures.
    #[arg(long, default_value = "fixtures/wire")]
    wire: PathBuf,
}

pub fn import(a: ImportArgs) -> ExitCode {
    let usage = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    let data = match std::fs::read(&a.file) {
        Ok(d) => d,
        Err(e) => return usage(format!("cannot read {}: {e}", a.file.display())),
    };
    let mutants = match mutants(&a.mutants) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let case = case_from_bytes(&data);
    println!(
        "{}: {} bytes, {} steps on {} apps",
        a.file.display(),
        data.len(),
        case.ops.len(),
        case.setup.setup.apps.len()
    );
    if let Err(why) = check_model(&case) {
        println!("the model itself breaks an invariant (a model_ops crash): {why}");
        println!("case: {}", serde_json::to_string(&case).expect("json"));
        return ExitCode::from(1);
    }
    // The fuzz target's own verdict first (fast, in-process), for the log.
    let in_process = InProcess::new(Mutants::new(mutants.clone())).differential(&case);
    match &in_process {
        Some(d) => println!("in-process differential: {}", d.headline()),
        None => println!("in-process differential: no divergence"),
    }
    let budget = Budget {
        max_replays: a.max_replays,
        ..Budget::default()
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let c = match rt.block_on(baton::embedded::shrink_case(case, &mutants, budget)) {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!("no divergence through the harness: the input does not reproduce");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let snapshots = a
        .snapshots
        .clone()
        .unwrap_or_else(|| a.out.join("snapshots"));
    let json = match c.write_json(&a.out) {
        Ok(p) => p,
        Err(e) => return usage(format!("cannot write to {}: {e}", a.out.display())),
    };
    let snap = match c.write_snapshot(&snapshots) {
        Ok(p) => p,
        Err(e) => return usage(format!("cannot write to {}: {e}", snapshots.display())),
    };
    print!("{}", c.to_text());
    println!("counterexample: {}", json.display());
    println!("snapshot: {}", snap.display());
    let with_mutants: String = mutants
        .iter()
        .map(|m| format!(" --mutant {}", m.name()))
        .collect();
    println!("replay with: baton replay {}{with_mutants}", json.display());
    ExitCode::SUCCESS
}

/// One seed input: `(target, file name, bytes)`.
type Seed = (&'static str, String, Vec<u8>);

/// The seed inputs.
pub fn seeds(a: &CorpusArgs) -> Result<Vec<Seed>, String> {
    let mut out = Vec::new();
    // Sequence targets: random bytes are exactly what the generator eats;
    // lengths from a few steps to MAX_STEPS.
    let mut rng = SplitMix64::new(a.seed);
    for i in 0..a.random {
        let len = 16 + (rng.next_u64() % 360) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let target = if i % 2 == 0 {
            "differential"
        } else {
            "model_ops"
        };
        out.push((target, format!("random-{i:03}"), bytes.clone()));
        let other = if i % 2 == 0 {
            "model_ops"
        } else {
            "differential"
        };
        out.push((other, format!("random-{i:03}"), bytes));
    }
    // Request targets: every operation of the scenarios and of a few random
    // cases, rendered as the harness sends it, with placeholders for the
    // fuzz page's tokens, proofs and key.
    let page = FuzzPage::new();
    let mut requests: Vec<(String, HttpInput)> = Vec::new();
    let mut scenario_files: Vec<PathBuf> = std::fs::read_dir(&a.scenarios)
        .map_err(|e| format!("cannot read {}: {e}", a.scenarios.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    scenario_files.sort();
    for f in &scenario_files {
        let text = std::fs::read_to_string(f).map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let ops: Vec<Op> = serde_json::from_value(v["ops"].clone())
            .map_err(|e| format!("{}: {e}", f.display()))?;
        let stem = f
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for (i, op) in ops.iter().enumerate() {
            if let Some(req) = render_op(op, &page) {
                requests.push((format!("{stem}-{i:02}"), req));
            }
        }
    }
    let cfg = GenConfig {
        transport_percent: 60,
        ..GenConfig::default()
    };
    let mut rng = SplitMix64::new(a.seed ^ 0x5eed);
    let (_, ops) = generate::case(&mut rng, &cfg, CASE_PAGE_ID, (a.random / 2) as usize);
    for (i, op) in ops.iter().enumerate() {
        if let Some(req) = render_op(op, &page) {
            requests.push((format!("random-{i:02}"), req));
        }
    }
    for (name, req) in &requests {
        let text = page.templatize(&String::from_utf8_lossy(&req.to_text()));
        out.push(("server_http", name.clone(), text.clone().into_bytes()));
        out.push(("wire_parse", name.clone(), text.into_bytes()));
    }
    // The wire fixtures: request bodies and webhook envelopes, as bodies.
    let mut wire_files: Vec<PathBuf> = std::fs::read_dir(&a.wire)
        .map_err(|e| format!("cannot read {}: {e}", a.wire.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    wire_files.sort();
    for f in wire_files {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let body = std::fs::read(&f).map_err(|e| e.to_string())?;
        let stem = name.split('.').next().unwrap_or("x").to_string();
        if name.starts_with("request_") || name.starts_with("webhook_") {
            let ct = if name.ends_with(".txt") {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            };
            let edge = edge_of(&name);
            let mut input =
                format!("POST /v19.0/me/{edge}?access_token=$TOKEN0\nContent-Type: {ct}\n\n")
                    .into_bytes();
            input.extend_from_slice(&body);
            out.push(("wire_parse", format!("fixture-{stem}"), input.clone()));
            if name.starts_with("request_") {
                out.push(("server_http", format!("fixture-{stem}"), input));
            }
        }
    }
    Ok(out)
}

/// The edge a fixture's file name names (`request_pass_thread_control_…`);
/// `messages` when it names none.
fn edge_of(name: &str) -> &'static str {
    baton::model::Edge::ALL
        .iter()
        .filter(|e| **e != baton::model::Edge::Messages && name.contains(e.as_str()))
        .map(|e| e.as_str())
        .next()
        .unwrap_or("messages")
}

/// One operation as the HTTP request the harness would send to the fuzz
/// page (control operations with the control key).
fn render_op(op: &Op, page: &FuzzPage) -> Option<HttpInput> {
    let setup: &Setup = &page.setup;
    match op {
        Op::Graph(g) => {
            // Scenario apps beyond the fuzz page's three map onto them.
            let mut g = g.clone();
            if let baton::model::Caller::App(a) = &mut g.caller {
                a.0 %= setup.apps.len() as u8;
            }
            Some(HttpInput::from_request(&render_graph(
                &g,
                setup,
                &page.creds,
            )))
        }
        _ => {
            let lookup = |_: &str, _: u32| Some(format!("{CASE_PAGE_ID}.0.m0"));
            let req = ControlRequest::from_op(op, setup, &lookup)?;
            Some(control_input(&req, page))
        }
    }
}

fn control_input(req: &ControlRequest, page: &FuzzPage) -> HttpInput {
    HttpInput {
        method: req.method().to_string(),
        path: format!("/conformance/{}", req.route()),
        query: req.query().unwrap_or_default(),
        headers: vec![
            ("X-Conformance-Key".to_string(), page.key.clone()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ],
        body: req
            .body()
            .map(|v| serde_json::to_vec(&v).expect("json"))
            .unwrap_or_default(),
    }
}

pub fn corpus(a: CorpusArgs) -> ExitCode {
    let seeds = match seeds(&a) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut written = std::collections::BTreeMap::<&str, usize>::new();
    for (target, name, bytes) in &seeds {
        let dir = a.dir.join(target);
        if let Err(e) =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(name), bytes))
        {
            eprintln!("error: cannot write {}: {e}", dir.display());
            return ExitCode::from(2);
        }
        *written.entry(target).or_default() += 1;
    }
    // A reset seed for the control API.
    let page = FuzzPage::new();
    let reset = ControlRequest::Reset(ResetRequest::from_setup(&page.setup, &page.creds));
    let text = page.templatize(&String::from_utf8_lossy(
        &control_input(&reset, &page).to_text(),
    ));
    for t in ["server_http", "wire_parse"] {
        let _ = std::fs::write(a.dir.join(t).join("control-reset"), &text);
    }
    for (t, n) in written {
        println!("{}: {n} seeds", Path::new(&a.dir).join(t).display());
    }
    ExitCode::SUCCESS
}
