//! Baselines of known deviations (`--expect`): rule ID → reason, as TOML.

use crate::harness::run::RunReport;
use crate::model::Rule;
use std::collections::BTreeMap;
use std::path::Path;

/// Known deviations: rule ID → reason, stored as TOML
/// (`CTRL-4 = "sends by non-owners go through; ticket 12"`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline(pub BTreeMap<Rule, String>);

impl Baseline {
    /// Parses the TOML text; unknown rule IDs and non-string reasons are errors.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let table: toml::Table = text.parse().map_err(|e| format!("not TOML: {e}"))?;
        let mut map = BTreeMap::new();
        for (k, v) in table {
            let rule = Rule::from_id(&k).ok_or(format!("unknown rule ID {k:?}"))?;
            let reason = v
                .as_str()
                .ok_or(format!("{k}: the reason must be a string"))?;
            map.insert(rule, reason.to_string());
        }
        Ok(Baseline(map))
    }

    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Baseline::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The TOML text, in catalogue order, with a header comment.
    pub fn to_toml(&self) -> String {
        let mut s = String::from(
            "# Known deviations of the target: rule ID = \"reason\".\n\
             # `baton run --expect FILE` exits 0 while every deviation is listed here.\n",
        );
        for (rule, reason) in &self.0 {
            s.push_str(&format!(
                "{} = {}\n",
                rule.id(),
                toml::Value::String(reason.clone())
            ));
        }
        s
    }

    /// The deviations of a run, keeping the reasons of `previous` for rules
    /// it already listed.
    pub fn of_run(r: &RunReport, previous: &Baseline) -> Baseline {
        let mut map = BTreeMap::new();
        for c in &r.counterexamples {
            let reason = previous.0.get(&c.rule).cloned().unwrap_or_else(|| {
                format!(
                    "{} (seed {}, counterexample {})",
                    c.divergence.headline(),
                    r.seed,
                    c.stem()
                )
            });
            map.insert(c.rule, reason);
        }
        Baseline(map)
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        std::fs::write(path, self.to_toml())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_round_trip_in_catalogue_order() {
        let b = Baseline::parse("PASS-1 = \"no webhook\"\nctrl-4 = 'say \"hi\"'\n").unwrap();
        assert_eq!(b.0.len(), 2);
        assert_eq!(b.0[&Rule::Ctrl4], "say \"hi\"");
        let text = b.to_toml();
        let ctrl = text.find("CTRL-4 = ").unwrap();
        assert!(ctrl < text.find("PASS-1 = ").unwrap(), "{text}");
        assert_eq!(Baseline::parse(&text).unwrap(), b);
        assert!(
            Baseline::parse("NOPE-1 = \"x\"")
                .unwrap_err()
                .contains("unknown rule ID")
        );
        assert!(
            Baseline::parse("CTRL-4 = 3")
                .unwrap_err()
                .contains("string")
        );
        assert!(Baseline::parse("CTRL-4 = ").is_err());
    }
}
