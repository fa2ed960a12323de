//! Progress of `baton run` on stderr: an indicatif bar on a terminal, a
//! plain line per minute otherwise, nothing with `--quiet`, or one JSON
//! object per event with `--log-format json`.

use baton::harness::{Observer, RunEvent};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// A progress bar on a terminal, a plain line per minute otherwise.
    Text,
    /// One JSON object per line and event on stderr.
    Json,
}

/// What shows progress during a run; [`Progress::finish`] closes it.
pub struct Progress {
    observer: Option<Observer>,
    bar: Option<ProgressBar>,
    json: bool,
    started: Instant,
}

struct State {
    last: Instant,
    cases: u64,
    steps: u64,
    divergences: u64,
    shrinking: Option<String>,
}

fn rate(steps: u64, since: Instant) -> f64 {
    steps as f64 / since.elapsed().as_secs_f64().max(1e-3)
}

fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Progress {
    pub fn new(
        format: LogFormat,
        quiet: bool,
        total_cases: u64,
        time_limit: Option<Duration>,
    ) -> Progress {
        let started = Instant::now();
        let state = Arc::new(Mutex::new(State {
            last: started,
            cases: 0,
            steps: 0,
            divergences: 0,
            shrinking: None,
        }));
        if format == LogFormat::Json {
            let observer = Observer(Arc::new(move |e: &RunEvent| {
                let mut st = state.lock().expect("lock");
                let mut value = serde_json::to_value(e).expect("events serialize");
                if let RunEvent::CaseFinished {
                    cases_done,
                    steps_done,
                    divergences,
                    ..
                } = e
                {
                    // Aggregated: at most one `progress` object a second.
                    (st.cases, st.steps, st.divergences) = (*cases_done, *steps_done, *divergences);
                    if st.last.elapsed() < Duration::from_secs(1) {
                        return;
                    }
                    st.last = Instant::now();
                    value = serde_json::json!({
                        "event": "progress",
                        "cases_done": cases_done,
                        "steps_done": steps_done,
                        "steps_per_s": (rate(*steps_done, started) * 10.0).round() / 10.0,
                        "divergences": divergences,
                    });
                }
                value["t_ms"] = (started.elapsed().as_millis() as u64).into();
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{value}");
            }));
            return Progress {
                observer: Some(observer),
                bar: None,
                json: true,
                started,
            };
        }
        if quiet {
            return Progress {
                observer: None,
                bar: None,
                json: false,
                started,
            };
        }
        let deadline = time_limit.map(|d| started + d);
        let bounded = total_cases != u64::MAX;
        if std::io::stderr().is_terminal() {
            let bar = if bounded {
                ProgressBar::new(total_cases)
            } else {
                ProgressBar::new_spinner()
            };
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(8));
            let template = if bounded {
                "{spinner} {elapsed_precise} [{bar:28.cyan/blue}] {pos}/{len} cases · {msg}"
            } else {
                "{spinner} {elapsed_precise} {pos} cases · {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            let b = bar.clone();
            let observer = Observer(Arc::new(move |e: &RunEvent| {
                let mut st = state.lock().expect("lock");
                match e {
                    RunEvent::CaseFinished {
                        cases_done,
                        steps_done,
                        divergences,
                        ..
                    } => {
                        (st.cases, st.steps, st.divergences) =
                            (*cases_done, *steps_done, *divergences);
                        st.shrinking = None;
                        if st.last.elapsed() < Duration::from_millis(120) {
                            return;
                        }
                        st.last = Instant::now();
                    }
                    RunEvent::Divergence {
                        headline, expected, ..
                    } => {
                        st.divergences += 1;
                        b.println(format!(
                            "divergence{}: {headline}",
                            if *expected { " (expected)" } else { "" }
                        ));
                    }
                    RunEvent::ShrinkStep {
                        rule,
                        replay,
                        steps,
                        ..
                    } => {
                        st.shrinking =
                            Some(format!("shrinking {rule}: replay {replay}, {steps} steps"));
                    }
                    _ => return,
                }
                let elapsed = started.elapsed();
                let by_cases = (bounded && st.cases > 0).then(|| {
                    elapsed
                        .mul_f64((total_cases - st.cases.min(total_cases)) as f64 / st.cases as f64)
                });
                let by_time = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                let left = match (by_cases, by_time) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                b.set_position(st.cases);
                b.set_message(format!(
                    "{:.0} steps/s · {} divergence{} · {}{}",
                    rate(st.steps, started),
                    st.divergences,
                    if st.divergences == 1 { "" } else { "s" },
                    left.map_or("time left unknown".into(), |l| format!("{} left", secs(l))),
                    st.shrinking
                        .as_ref()
                        .map_or(String::new(), |s| format!(" · {s}"))
                ));
            }));
            return Progress {
                observer: Some(observer),
                bar: Some(bar),
                json: false,
                started,
            };
        }
        // Not a terminal: a plain line a minute, and each divergence.
        let observer = Observer(Arc::new(move |e: &RunEvent| {
            let mut st = state.lock().expect("lock");
            match e {
                RunEvent::CaseFinished {
                    cases_done,
                    steps_done,
                    divergences,
                    ..
                } => {
                    (st.cases, st.steps, st.divergences) = (*cases_done, *steps_done, *divergences);
                    if st.last.elapsed() >= Duration::from_secs(60) {
                        st.last = Instant::now();
                        let left = deadline.map_or(String::new(), |d| {
                            format!(
                                ", {} left",
                                secs(d.saturating_duration_since(Instant::now()))
                            )
                        });
                        eprintln!(
                            "baton: {}: {} cases, {} steps ({:.0} steps/s), {} divergence(s){left}",
                            secs(started.elapsed()),
                            st.cases,
                            st.steps,
                            rate(st.steps, started),
                            st.divergences
                        );
                    }
                }
                RunEvent::Divergence {
                    headline, expected, ..
                } => {
                    eprintln!(
                        "baton: divergence{}: {headline}",
                        if *expected { " (expected)" } else { "" }
                    );
                }
                _ => {}
            }
        }));
        Progress {
            observer: Some(observer),
            bar: None,
            json: false,
            started,
        }
    }

    pub fn observer(&self) -> Option<Observer> {
        self.observer.clone()
    }

    /// Clears the bar; in JSON, writes the `finished` event.
    pub fn finish(&self, finished: serde_json::Value) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.json {
            let mut v = finished;
            v["event"] = "finished".into();
            v["t_ms"] = (self.started.elapsed().as_millis() as u64).into();
            eprintln!("{v}");
        }
    }
}
