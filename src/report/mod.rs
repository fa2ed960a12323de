//! Certification reports: a verdict for every rule ID, the counterexamples
//! drawn as sequence diagrams, JUnit XML for CI, and baselines of known
//! deviations (`--expect`).
//!
//! Functional core, imperative shell: [`Report`] is plain data built from a
//! [`RunReport`]; [`Report::to_json`], [`junit::render`],
//! [`markdown::render`] and [`html::render`] are pure functions of it; only
//! [`Report::write_all`] and [`Baseline::load`]/[`Baseline::save`] touch
//! the file system.
//!
//! No token, app secret or control key is in a report: counterexamples
//! name apps by position, the configuration is [`RunConfig::redacted`], and
//! URLs lose their user info and query.
//!
//! [`RunConfig::redacted`]: crate::harness::RunConfig::redacted

mod baseline;
mod data;
pub mod diagram;
mod escape;
pub mod html;
pub mod junit;
pub mod markdown;
mod summary;

pub use baseline::Baseline;
pub use data::{CounterexampleEntry, Expectation, Report, RuleEntry, Totals, Verdict};

use std::path::{Path, PathBuf};

impl Report {
    /// Writes `report.json`, `junit.xml`, `report.md` and `report.html` to
    /// `dir`; returns their paths.
    pub fn write_all(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let files = [
            ("report.json", self.to_json()),
            ("junit.xml", junit::render(self)),
            ("report.md", markdown::render(self)),
            ("report.html", html::render(self)),
        ];
        let mut out = Vec::new();
        for (name, body) in files {
            let path = dir.join(name);
            std::fs::write(&path, body)?;
            out.push(path);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use escape::escape;

    #[test]
    fn escaping_keeps_xml_and_mermaid_valid() {
        assert_eq!(escape("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&#39;");
        assert_eq!(escape("x\u{1}y"), "x\\u{1}y");
        assert_eq!(
            markdown::mermaid_text("a;b #c <d>\ne"),
            "a#59;b #35;c #lt;d#gt; e"
        );
    }
}
