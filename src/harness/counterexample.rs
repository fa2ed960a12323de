//! Counterexamples: the shrunk case, what was expected and what was
//! observed, stored as JSON (replayable with `baton replay`) and as a
//! readable insta snapshot under `snapshots/`.
//!
//! Files are named by rule ID and a hash of the operations, never by the
//! order in which they were found, so the same bug found twice lands in the
//! same file and a snapshot diff means the counterexample changed.

use super::concurrent::{ConcurrentPart, side_by_side};
use super::diff::Divergence;
use super::shrink::ShrinkStats;
use crate::generate::Case;
use crate::model::{INSTAGRAM_INBOX_APP_ID, Rule, Surface};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What a run certifies: a platform (`baton run`, the platform rules) or
/// an app (`baton certify-app`, the BP and APP rules).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    #[default]
    Platform,
    App,
}

impl Subject {
    /// Whether `rule` is one this kind of run certifies.
    pub fn applies(self, rule: Rule) -> bool {
        match self {
            Subject::Platform => rule.is_platform_rule(),
            Subject::App => rule.is_app_rule(),
        }
    }

    pub fn is_platform(&self) -> bool {
        *self == Subject::Platform
    }

    /// The flags `baton replay` takes to play a counterexample of this
    /// subject against something else than baton's own reference.
    pub fn replay_flags(self) -> &'static str {
        match self {
            Subject::Platform => "[--target URL --key KEY]",
            Subject::App => "[--webhook URL]",
        }
    }

    /// `platform` or `app`.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Platform => "platform",
            Subject::App => "app",
        }
    }
}

/// Everything needed to understand and replay one failure. No token, app
/// secret or control key is in here: replays make fresh credentials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Counterexample {
    pub baton_version: String,
    /// What was certified: a platform (the default) or an app.
    #[serde(default, skip_serializing_if = "Subject::is_platform")]
    pub subject: Subject,
    /// The rule the counterexample is filed under.
    pub rule: Rule,
    pub case: Case,
    pub divergence: Divergence,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrink: Option<ShrinkStats>,
    /// The run's seed and the case's number in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_index: Option<u64>,
    /// The target's Graph URL (no credentials).
    pub target: String,
    /// For a case with branches (`baton run --concurrent`): how often the
    /// shrunk case failed when repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<ConcurrentPart>,
}

impl Counterexample {
    pub fn new(case: Case, divergence: Divergence, target: &str) -> Counterexample {
        Counterexample {
            baton_version: env!("CARGO_PKG_VERSION").to_string(),
            subject: Subject::Platform,
            rule: divergence.rule(),
            case,
            divergence,
            shrink: None,
            seed: None,
            case_index: None,
            target: target.to_string(),
            concurrent: None,
        }
    }

    /// A stable hash of the operations and the page they run on (FNV-1a).
    pub fn hash(&self) -> String {
        let c = &self.case;
        let text = if c.is_concurrent() {
            serde_json::to_string(&(&c.setup, &c.ops, &c.branches))
        } else {
            serde_json::to_string(&(&c.setup, &c.ops))
        }
        .expect("cases serialize");
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{:012x}", h & 0xffff_ffff_ffff)
    }

    /// `ctrl-4-1a2b3c4d5e6f`.
    pub fn stem(&self) -> String {
        format!("{}-{}", self.rule.id().to_ascii_lowercase(), self.hash())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("counterexamples serialize")
    }

    pub fn load(path: &Path) -> Result<Counterexample, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a baton counterexample: {e}", path.display()))
    }

    /// The readable form: the page, the numbered steps, and the diff.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let d = &self.divergence;
        let rules: Vec<&str> = d.rules.iter().map(|r| r.id()).collect();
        let _ = writeln!(s, "rule: {} ({})", rules.join(", "), self.rule.summary());
        let _ = writeln!(
            s,
            "verdict: {}{}",
            if d.strict {
                "fails (MUST)"
            } else {
                "non-strict deviation"
            },
            self.concurrent
                .as_ref()
                .map(|c| format!(", {}", c.verdict()))
                .unwrap_or_default()
        );
        let setup = &self.case.setup.setup;
        let _ = writeln!(s, "page {} at {} ms", setup.page_id, setup.now_ms);
        for (i, a) in setup.apps.iter().enumerate() {
            let mut flags = Vec::new();
            if setup.primary.is_some_and(|p| p.index() == i) {
                flags.push("primary receiver");
            }
            if a.human_agent {
                flags.push("human_agent");
            }
            if a.require_appsecret_proof {
                flags.push("requires appsecret_proof");
            }
            let flags = if flags.is_empty() {
                String::new()
            } else {
                format!(" ({})", flags.join(", "))
            };
            let _ = writeln!(s, "  app {i} = app_id {} {:?}{flags}", a.app_id, a.name);
        }
        let users = &self.case.setup;
        if let Some(ig) = &setup.instagram_account_id {
            let _ = writeln!(
                s,
                "  Instagram account {ig} (the Instagram Inbox is {})",
                INSTAGRAM_INBOX_APP_ID
            );
        }
        let threads: Vec<String> = users
            .psids
            .iter()
            .map(|p| Surface::Messenger.user_label(p))
            .chain(
                users
                    .igsids
                    .iter()
                    .map(|p| Surface::Instagram.user_label(p)),
            )
            .collect();
        let _ = writeln!(s, "  users: {}", threads.join(", "));
        let _ = writeln!(s, "steps:");
        for (i, op) in self.case.ops.iter().enumerate() {
            let mark = if i == d.step && !d.concurrent {
                ">>"
            } else {
                "  "
            };
            let _ = writeln!(s, "{mark} {i}. {op}");
        }
        if self.case.is_concurrent() {
            let _ = write!(s, "{}", side_by_side(&self.case));
        }
        if d.concurrent {
            let _ = writeln!(s, "in the {}, the {} differs:", d.what(), d.kind().name());
        } else {
            let _ = writeln!(s, "at step {}, the {} differs:", d.step, d.kind().name());
        }
        let _ = writeln!(s, "--- expected");
        for line in d.expected_text().lines() {
            let _ = writeln!(s, "-   {line}");
        }
        let _ = writeln!(s, "+++ observed");
        for line in d.observed_text().lines() {
            let _ = writeln!(s, "+   {line}");
        }
        s
    }

    /// Writes `<dir>/<stem>.json`; returns the path.
    pub fn write_json(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.json", self.stem()));
        std::fs::write(&path, self.to_json())?;
        Ok(path)
    }

    /// Writes the insta snapshot `<dir>/<stem>.snap` (the format
    /// `cargo insta` reads); returns the path.
    pub fn write_snapshot(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.snap", self.stem()));
        let body = format!(
            "---\nsource: src/harness/counterexample.rs\nexpression: counterexample\n---\n{}",
            self.to_text()
        );
        std::fs::write(&path, body)?;
        Ok(path)
    }
}
