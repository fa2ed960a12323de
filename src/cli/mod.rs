//! The command line's pieces: one file per command (`run` and `replay`,
//! `serve`, `app`, `bench`, `fuzz-import` and `fuzz-corpus`), progress display,
//! and what they share: the one runtime builder, the one mutant-name
//! parser, durations, exit codes.

pub mod app;
pub mod bench;
pub mod certify;
pub mod fuzz;
mod progress;
pub mod run;
pub mod serve;

use baton::app::AppMutant;
use baton::server::Mutant;
use std::process::ExitCode;
use std::time::Duration;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  the target conforms (non-strict deviations may be listed)
  1  a MUST rule was broken (with --strict: any rule)
  2  usage or configuration error
  3  the target could not be reached or does not implement the control API";

/// `90`, `90s`, `5m`, `1h`, `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 5m or 1h"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("{s:?} must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The mutants named on the command line; a usage error (exit 2) names
/// the known ones.
pub fn mutants(names: &[String]) -> Result<Vec<Mutant>, ExitCode> {
    names
        .iter()
        .map(|n| {
            Mutant::parse(n).ok_or_else(|| {
                usage(format!(
                    "unknown mutant {n:?}; known mutants: {}",
                    Mutant::names()
                ))
            })
        })
        .collect()
}

/// The app mutants named on the command line; a usage error (exit 2)
/// names the known ones.
pub fn app_mutants(names: &[String]) -> Result<Vec<AppMutant>, ExitCode> {
    names
        .iter()
        .map(|n| {
            AppMutant::parse(n).ok_or_else(|| {
                usage(format!(
                    "unknown app mutant {n:?}; known app mutants: {}",
                    AppMutant::names()
                ))
            })
        })
        .collect()
}

/// The multi-threaded runtime every command runs on, one worker per core.
pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(1)
        })
}

/// Prints a usage error; exit code 2.
pub fn usage(msg: String) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// Writes the four report files and lists them; exit code 2 when it cannot.
pub fn write_report(report: &baton::report::Report, dir: &std::path::Path) -> Result<(), ExitCode> {
    match report.write_all(dir) {
        Ok(files) => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            println!("report: {}", names.join(", "));
            Ok(())
        }
        Err(e) => {
            eprintln!("error: cannot write the report to {}: {e}", dir.display());
            Err(ExitCode::from(2))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err() && parse_duration("5 parsecs").is_err());
    }
}
