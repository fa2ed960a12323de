//! The fuzz targets' bodies (`baton::fuzzing`) on the committed seed
//! corpora, so `cargo test` catches a regression without cargo-fuzz; and the
//! planted-bug path end to end: an input on which `differential` crashes
//! with mutant send-non-owner becomes, through `baton fuzz-import`, a minimal
//! counterexample filed under CTRL-4 that `baton replay` reproduces.

use baton::fuzzing::{
    FuzzPage, InProcess, case_from_bytes, check_model, check_server_http, check_wire,
};
use baton::generate::SplitMix64;
use baton::harness::counterexample::Counterexample;
use baton::model::Rule;
use baton::server::{Mutant, Mutants};
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

#[test]
fn model_ops_seeds_keep_the_invariants() {
    for (path, data) in corpus("model_ops") {
        let case = case_from_bytes(&data);
        assert!(!case.ops.is_empty());
        if let Err(why) = check_model(&case) {
            panic!("{}: {why}", path.display());
        }
    }
}

#[test]
fn wire_parse_seeds_round_trip() {
    let page = FuzzPage::new();
    for (_, data) in corpus("wire_parse") {
        check_wire(&data, &page);
    }
    // Odd inputs: empty, binary, a bare head.
    for data in [
        &b""[..],
        b"\xff\xfe\n\n\x00",
        b"GET /",
        b"POST /conformance/reset\n\n{",
    ] {
        check_wire(data, &page);
    }
}

#[test]
fn server_http_seeds_answer_well() {
    let server = InProcess::new(Mutants::none());
    let mut baseline = None;
    for (_, data) in corpus("server_http") {
        check_server_http(&server, &mut baseline, &data);
    }
}

#[test]
fn differential_seeds_agree_with_the_model() {
    let server = InProcess::new(Mutants::none());
    for (path, data) in corpus("differential") {
        let case = case_from_bytes(&data);
        if let Some(d) = server.differential(&case) {
            panic!("{}: {}", path.display(), d.headline());
        }
    }
}

/// The generator's inputs, decoded the same way every time.
#[test]
fn inputs_decode_deterministically() {
    let mut rng = SplitMix64::new(3);
    for _ in 0..50 {
        let data: Vec<u8> = (0..200).map(|_| rng.next_u64() as u8).collect();
        assert_eq!(case_from_bytes(&data), case_from_bytes(&data));
    }
}

/// Finds, among random inputs, one on which `differential` diverges with
/// the mutant on (what the fuzzer does, much faster than two minutes).
fn planted_crash() -> Vec<u8> {
    let server = InProcess::new(Mutants::new(vec![Mutant::SendNonOwner]));
    let clean = InProcess::new(Mutants::none());
    let mut rng = SplitMix64::new(6);
    for _ in 0..5000 {
        let len = 16 + (rng.next_u64() % 200) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let case = case_from_bytes(&data);
        if let Some(d) = server.differential(&case) {
            assert!(d.rules.contains(&Rule::Ctrl4), "{}", d.headline());
            assert!(
                clean.differential(&case).is_none(),
                "the reference server diverged"
            );
            return data;
        }
    }
    panic!("no input found on which send-non-owner diverges");
}

#[test]
fn fuzz_import_turns_a_planted_crash_into_a_minimal_ctrl4_counterexample() {
    let dir = std::env::temp_dir().join(format!("baton-fuzz-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let crash = dir.join("crash-planted");
    std::fs::write(&crash, planted_crash()).unwrap();
    let out = dir.join("out");
    let baton = env!("CARGO_BIN_EXE_baton");
    let o = Command::new(baton)
        .arg("fuzz-import")
        .arg(&crash)
        .args(["--mutant", "send-non-owner", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let json: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(json.len(), 1, "{stdout}");
    let c = Counterexample::load(&json[0]).unwrap();
    assert_eq!(c.rule, Rule::Ctrl4, "{stdout}");
    assert!(
        json[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ctrl-4-"),
        "{}",
        json[0].display()
    );
    // The hand-minimal counterexample has 2 steps (a user message, then a
    // non-owner's send); the shrinker may keep one more.
    assert!(c.case.ops.len() <= 3, "{}", c.to_text());
    assert!(
        c.shrink.as_ref().is_some_and(|s| s.minimal),
        "{}",
        c.to_text()
    );
    assert!(
        out.join("snapshots")
            .join(format!("{}.snap", c.stem()))
            .exists()
    );
    // Replayable: reproduces with the mutant, not without.
    let replay = |mutant: bool| {
        let mut cmd = Command::new(baton);
        cmd.arg("replay").arg(&json[0]);
        if mutant {
            cmd.args(["--mutant", "send-non-owner"]);
        }
        cmd.output().unwrap().status.code()
    };
    assert_eq!(replay(true), Some(1));
    assert_eq!(replay(false), Some(0));
    // Against the reference server the same input imports nothing.
    let o = Command::new(baton)
        .arg("fuzz-import")
        .arg(&crash)
        .arg("--out")
        .arg(dir.join("clean"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fuzz_corpus_writes_small_seed_sets() {
    let dir = std::env::temp_dir().join(format!("baton-fuzz-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = Command::new(env!("CARGO_BIN_EXE_baton"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("fuzz-corpus")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for t in ["model_ops", "wire_parse", "server_http", "differential"] {
        let files: Vec<_> = std::fs::read_dir(dir.join(t)).unwrap().collect();
        assert!(
            (10..=100).contains(&files.len()),
            "{t}: {} files",
            files.len()
        );
        for f in files {
            let len = f.unwrap().metadata().unwrap().len();
            assert!(len <= 2048, "{t}: a seed of {len} bytes");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Fuzz inputs reach Instagram threads too (the generator's default mix),
/// and the dictionaries carry the Instagram words.
#[test]
fn fuzz_inputs_reach_instagram_threads_and_dictionaries_name_them() {
    use baton::model::{State, apply};
    let seed = 0x16_2026;
    let mut rng = SplitMix64::new(seed);
    let mut instagram = 0;
    for _ in 0..200 {
        let data: Vec<u8> = (0..200).map(|_| rng.next_u64() as u8).collect();
        let case = case_from_bytes(&data);
        let mut st = State::new(case.setup.setup.clone());
        for op in &case.ops {
            apply(&mut st, op);
        }
        if st
            .threads
            .keys()
            .any(|p| st.surface(p).is_some_and(|s| s.is_instagram()))
        {
            instagram += 1;
        }
    }
    assert!(
        instagram >= 20,
        "seed {seed}: only {instagram} of 200 inputs made an Instagram thread"
    );
    for dict in ["server_http", "wire_parse"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/dict/{dict}.dict"));
        let text = std::fs::read_to_string(&path).unwrap();
        for word in [
            "\"instagram\"",
            "\"1217981644879628\"",
            "\"instagram_account_id\"",
            "\"platform\"",
        ] {
            assert!(text.contains(word), "{} lacks {word}", path.display());
        }
    }
}
