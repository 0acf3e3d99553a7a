//! Reads variables and records what is wrong instead of stopping at the first problem, so one
//! start-up reports every mistake. Each section's file uses these to read its own variables.

use std::{fmt, str::FromStr, time::Duration};

use secrecy::SecretString;
use strum::VariantNames;
use tracing_subscriber::EnvFilter;

use super::ConfigError;

pub struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl<'a> Reader<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            lookup,
            problems: Vec::new(),
        }
    }

    /// `value` when nothing was wrong, else every problem found.
    pub fn finish<T>(self, value: T) -> Result<T, ConfigError> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError(self.problems))
        }
    }

    /// Records a problem found by a check of the caller's own.
    pub fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// Records `problem` when `holds` is false.
    pub fn require(&mut self, holds: bool, problem: &str) {
        if !holds {
            self.problem(problem);
        }
    }

    /// The trimmed value, with empty treated as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    // ANCHOR: parse
    /// Parses the variable, or `default` when unset. On a bad value the problem is recorded
    /// and the default stands in, so loading can go on and report every problem at once.
    pub fn parse<T>(&mut self, name: &str, default: &str) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let raw = self.string(name, default);
        raw.parse().unwrap_or_else(|err| {
            self.problem(format!("{name}={raw:?} is not valid: {err}"));
            default
                .parse()
                .unwrap_or_else(|_| panic!("the built-in default of {name} must parse"))
        })
    }
    // ANCHOR_END: parse

    /// One of an enum's names (any case), e.g. `LOG_FORMAT=json`.
    pub fn choice<T: FromStr + VariantNames>(&mut self, name: &str, default: T) -> T {
        let Some(raw) = self.get(name) else {
            return default;
        };
        raw.parse().unwrap_or_else(|_| {
            self.problem(format!(
                "{name}={raw:?} is not valid: expected one of {}",
                T::VARIANTS.join(", ")
            ));
            default
        })
    }

    /// A count that must be at least 1.
    pub fn count<T>(&mut self, name: &str, default: &str) -> T
    where
        T: FromStr + Default + PartialOrd,
        T::Err: fmt::Display,
    {
        let value: T = self.parse(name, default);
        if value <= T::default() && !self.reported(name) {
            self.problem(format!("{name} must be at least 1"));
        }
        value
    }

    pub fn millis(&mut self, name: &str, default: u64) -> Duration {
        let ms: u64 = self.parse(name, &default.to_string());
        if ms == 0 && !self.reported(name) {
            self.problem(format!("{name} must be greater than 0 milliseconds"));
        }
        Duration::from_millis(ms)
    }

    pub fn seconds(&mut self, name: &str, default: u64) -> Duration {
        let secs: u64 = self.parse(name, &default.to_string());
        if secs == 0 && !self.reported(name) {
            self.problem(format!("{name} must be greater than 0 seconds"));
        }
        Duration::from_secs(secs)
    }

    fn reported(&self, name: &str) -> bool {
        self.problems.iter().any(|p| p.starts_with(name))
    }

    /// A required secret of at least `min_len` bytes; its value is never echoed.
    pub fn secret(&mut self, name: &str, min_len: usize) -> SecretString {
        let example = "the output of `openssl rand -base64 48`";
        let Some(value) = self.required(name, example) else {
            return SecretString::from(String::new());
        };
        if value.len() < min_len {
            self.problem(format!(
                "{name} must be at least {min_len} bytes long (value hidden), e.g. {example}"
            ));
        }
        SecretString::from(value)
    }

    // ANCHOR: required
    pub fn required(&mut self, name: &str, example: &str) -> Option<String> {
        let value = self.get(name);
        if value.is_none() {
            self.problem(format!("{name} is required (for example {example})"));
        }
        value
    }
    // ANCHOR_END: required

    /// Checks the scheme without ever echoing the value: it may contain a password.
    pub fn secret_url(&mut self, name: &str, example: &str, schemes: &[&str]) -> SecretString {
        let Some(url) = self.required(name, example) else {
            return SecretString::from(String::new());
        };
        if !schemes.iter().any(|s| url.starts_with(&format!("{s}://"))) {
            let expected: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
            self.problem(format!(
                "{name} must start with {} (value hidden: it may hold a password)",
                expected.join(" or ")
            ));
        }
        SecretString::from(url)
    }

    pub fn optional_url(&mut self, name: &str) -> Option<String> {
        let url = self.get(name)?;
        if url.starts_with("http://") || url.starts_with("https://") {
            Some(url.trim_end_matches('/').to_owned())
        } else {
            self.problem(format!("{name}={url:?} must be an http:// or https:// URL"));
            None
        }
    }

    pub fn log_filter(&mut self, name: &str, default: &str) -> String {
        let directive = self.string(name, default);
        if let Err(err) = EnvFilter::try_new(&directive) {
            self.problem(format!("{name}={directive:?} is not a valid filter: {err}"));
        }
        directive
    }
}
