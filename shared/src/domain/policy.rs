//! The dunning policy (spec §5) as data. `Policy::default()` is the spec's
//! table; `Policy::from_toml` loads a file and validates it, naming the line
//! of whatever is wrong.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::account::Role;

/// The largest dpd threshold or wait a policy may set: ten years.
pub const MAX_DAYS: u32 = 3650;

/// The ladder's steps. Their order, kind and extra conditions are fixed;
/// their thresholds, waits and recipients are policy settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    Reminder1,
    Reminder2,
    FinalNotice,
    Suspend,
    Cancel,
    CollectionsNotice,
    Collections,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// May be skipped when a later step is already due.
    Reminder,
    /// Never skipped.
    Warning,
    /// Never skipped; changes the account's service.
    Action,
}

impl StepName {
    pub const ALL: [StepName; 7] = [
        Self::Reminder1,
        Self::Reminder2,
        Self::FinalNotice,
        Self::Suspend,
        Self::Cancel,
        Self::CollectionsNotice,
        Self::Collections,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reminder1 => "reminder_1",
            Self::Reminder2 => "reminder_2",
            Self::FinalNotice => "final_notice",
            Self::Suspend => "suspend",
            Self::Cancel => "cancel",
            Self::CollectionsNotice => "collections_notice",
            Self::Collections => "collections",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }

    pub fn kind(self) -> StepKind {
        match self {
            Self::Reminder1 | Self::Reminder2 => StepKind::Reminder,
            Self::FinalNotice | Self::CollectionsNotice => StepKind::Warning,
            Self::Suspend | Self::Cancel | Self::Collections => StepKind::Action,
        }
    }

    /// The step that must have fired at least `wait_days` before this one.
    pub fn waits_for(self) -> Option<StepName> {
        match self {
            Self::Suspend => Some(Self::FinalNotice),
            Self::Cancel => Some(Self::Suspend),
            Self::Collections => Some(Self::CollectionsNotice),
            _ => None,
        }
    }

    /// Never fires for an exempt account.
    pub fn spares_exempt(self) -> bool {
        matches!(self, Self::Suspend | Self::Cancel)
    }

    /// Cuts the customer off (or hands them to collections): taken only on
    /// state the processor confirms, when one can be asked.
    pub fn cuts_off(self) -> bool {
        matches!(self, Self::Suspend | Self::Cancel | Self::Collections)
    }

    /// Needs the overdue total in some currency ≥ `collections_min`.
    pub fn needs_collections_amount(self) -> bool {
        matches!(self, Self::CollectionsNotice | Self::Collections)
    }
}

impl fmt::Display for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: StepName,
    /// Fires when the account's dpd is at least this.
    pub dpd: u32,
    /// Roles of the recipients; empty means staff and downstream only.
    pub to: Vec<Role>,
    /// For steps that wait on an earlier one: the days that must pass.
    pub wait_days: u32,
    /// What staff are asked to do when the step fires (a call), besides
    /// what the step does for the customer, which it does not change.
    pub task: Option<StepTask>,
}

/// A staff task a step opens: call the contacts holding `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTask {
    pub to: Vec<Role>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub min_balance: Decimal,
    pub collections_min: Decimal,
    pub business_days_only: bool,
    /// Local hour of the daily run, 0-23.
    pub run_hour: u32,
    /// In ladder order.
    pub steps: Vec<Step>,
    /// The latest date a customer may promise to pay by: this many days
    /// after the day they promise (the customer page).
    pub promise_max_days: u32,
    /// Promises a customer may make in one episode (0: none).
    pub promises_per_episode: u32,
}

/// No policy lets a customer promise more often than this in one episode.
pub const MAX_PROMISES: u32 = 10;

fn default_step(name: StepName) -> Step {
    use Role::{Billing, Escalation, Primary};
    // Call the billing contact with the second reminder, and up the line
    // (the escalation contact) with the final notice.
    let task = match name {
        StepName::Reminder2 => Some(StepTask { to: vec![Billing] }),
        StepName::FinalNotice => Some(StepTask {
            to: vec![Escalation],
        }),
        _ => None,
    };
    let (dpd, to, wait_days): (u32, &[Role], u32) = match name {
        StepName::Reminder1 => (1, &[Billing], 0),
        StepName::Reminder2 => (7, &[Billing, Primary], 0),
        StepName::FinalNotice => (14, &[Billing, Primary, Escalation], 0),
        StepName::Suspend => (21, &[Billing, Primary, Escalation], 7),
        // "suspend fired on a day before D": at least one day earlier.
        StepName::Cancel => (45, &[Billing, Primary, Escalation], 1),
        StepName::CollectionsNotice => (50, &[Billing, Primary, Escalation], 0),
        StepName::Collections => (60, &[], 7),
    };
    Step {
        name,
        dpd,
        to: to.to_vec(),
        wait_days,
        task,
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            min_balance: Decimal::new(100, 2),
            collections_min: Decimal::new(50000, 2),
            business_days_only: true,
            run_hour: 9,
            steps: StepName::ALL.into_iter().map(default_step).collect(),
            promise_max_days: 14,
            promises_per_episode: 1,
        }
    }
}

/// A policy file that cannot be used, with the line at fault when known.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{}{message}", .line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct PolicyError {
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    min_balance: Option<Spanned<String>>,
    collections_min: Option<Spanned<String>>,
    business_days_only: Option<bool>,
    run_hour: Option<Spanned<i64>>,
    promise_max_days: Option<Spanned<i64>>,
    promises_per_episode: Option<Spanned<i64>>,
    step: Option<Vec<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Spanned<String>,
    kind: Option<Spanned<String>>,
    dpd: Spanned<i64>,
    to: Spanned<Vec<String>>,
    wait_days: Option<Spanned<i64>>,
    /// `"call"`: staff call the contacts holding `task_to` (default: `to`).
    task: Option<Spanned<String>>,
    task_to: Option<Spanned<Vec<String>>>,
}

impl Policy {
    /// Loads and validates a policy file. Settings it leaves out keep the
    /// defaults; if it has `[[step]]` tables they are the whole ladder.
    /// Reads a policy file. Every number is bounded where it is read: an
    /// amount by [`Money::MAX`](crate::domain::Money::MAX), a dpd or wait
    /// by [`MAX_DAYS`], so date arithmetic on them cannot overflow.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let at = |span: std::ops::Range<usize>, message: String| PolicyError {
            line: Some(line_of(span.start)),
            message,
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError {
            line: e.span().map(|s| line_of(s.start)),
            message: e.message().trim().to_owned(),
        })?;
        let mut policy = Self::default();
        let amount = |field: &str, v: &Spanned<String>| {
            v.get_ref()
                .parse::<Decimal>()
                .ok()
                .filter(|d| !d.is_sign_negative() && *d <= crate::domain::Money::MAX)
                .ok_or_else(|| {
                    at(
                        v.span(),
                        format!(
                            "{field} must be a non-negative decimal string of at most 10^15, got {:?}",
                            v.get_ref()
                        ),
                    )
                })
        };
        if let Some(v) = &raw.min_balance {
            policy.min_balance = amount("min_balance", v)?;
        }
        if let Some(v) = &raw.collections_min {
            policy.collections_min = amount("collections_min", v)?;
        }
        if let Some(b) = raw.business_days_only {
            policy.business_days_only = b;
        }
        if let Some(h) = &raw.run_hour {
            policy.run_hour = u32::try_from(*h.get_ref())
                .ok()
                .filter(|h| *h < 24)
                .ok_or_else(|| {
                    at(
                        h.span(),
                        format!("run_hour must be 0 to 23, got {}", h.get_ref()),
                    )
                })?;
        }
        let bounded = |field: &str, v: &Spanned<i64>, range: std::ops::RangeInclusive<u32>| {
            u32::try_from(*v.get_ref())
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    at(
                        v.span(),
                        format!(
                            "{field} must be a whole number from {} to {}, got {}",
                            range.start(),
                            range.end(),
                            v.get_ref()
                        ),
                    )
                })
        };
        if let Some(v) = &raw.promise_max_days {
            policy.promise_max_days = bounded("promise_max_days", v, 1..=MAX_DAYS)?;
        }
        if let Some(v) = &raw.promises_per_episode {
            policy.promises_per_episode = bounded("promises_per_episode", v, 0..=MAX_PROMISES)?;
        }
        if let Some(steps) = raw.step {
            policy.steps.clear();
            for s in steps {
                let name = StepName::parse(s.name.get_ref()).ok_or_else(|| {
                    let known: Vec<&str> = StepName::ALL.iter().map(|n| n.as_str()).collect();
                    at(
                        s.name.span(),
                        format!(
                            "unknown step name {:?} (known: {})",
                            s.name.get_ref(),
                            known.join(", ")
                        ),
                    )
                })?;
                if let Some(kind) = &s.kind {
                    let want = serde_json::to_value(name.kind()).ok();
                    if want.as_ref().and_then(|v| v.as_str()) != Some(kind.get_ref().as_str()) {
                        return Err(at(
                            kind.span(),
                            format!(
                                "{name} is of kind {}, not {:?}",
                                want.map(|v| v.to_string()).unwrap_or_default(),
                                kind.get_ref()
                            ),
                        ));
                    }
                }
                if let Some(prev) = policy.steps.last()
                    && prev.name >= name
                {
                    return Err(at(
                        s.name.span(),
                        format!(
                            "{name} must come after {} in the ladder order, once",
                            prev.name
                        ),
                    ));
                }
                let dpd = u32::try_from(*s.dpd.get_ref())
                    .ok()
                    .filter(|d| (1..=MAX_DAYS).contains(d))
                    .ok_or_else(|| {
                        at(
                            s.dpd.span(),
                            format!(
                                "dpd of {name} must be a whole number from 1 to {MAX_DAYS}, got {}",
                                s.dpd.get_ref()
                            ),
                        )
                    })?;
                if let Some(prev) = policy.steps.last()
                    && dpd < prev.dpd
                {
                    return Err(at(
                        s.dpd.span(),
                        format!(
                            "thresholds out of order: {name} at dpd {dpd} comes after {} at dpd {}",
                            prev.name, prev.dpd
                        ),
                    ));
                }
                let roles = |list: &Spanned<Vec<String>>| {
                    let mut roles = Vec::new();
                    for r in list.get_ref() {
                        let role = Role::parse(r).map_err(|e| at(list.span(), e))?;
                        if !roles.contains(&role) {
                            roles.push(role);
                        }
                    }
                    Ok::<_, PolicyError>(roles)
                };
                let to = roles(&s.to)?;
                let task = match (&s.task, &s.task_to) {
                    (None, None) => None,
                    (None, Some(t)) => {
                        return Err(at(
                            t.span(),
                            format!("task_to of {name} needs task = \"call\""),
                        ));
                    }
                    (Some(kind), _) if kind.get_ref() != "call" => {
                        return Err(at(
                            kind.span(),
                            format!("unknown task {:?} (known: call)", kind.get_ref()),
                        ));
                    }
                    (Some(_), task_to) => Some(StepTask {
                        to: match task_to {
                            Some(t) => roles(t)?,
                            None => to.clone(),
                        },
                    }),
                };
                let wait_days = match (&s.wait_days, name.waits_for()) {
                    (None, _) => default_step(name).wait_days,
                    (Some(w), Some(_)) => u32::try_from(*w.get_ref())
                        .ok()
                        .filter(|w| *w <= MAX_DAYS)
                        .ok_or_else(|| {
                            at(
                                w.span(),
                                format!(
                                    "wait_days of {name} must be 0 to {MAX_DAYS}, got {}",
                                    w.get_ref()
                                ),
                            )
                        })?,
                    (Some(w), None) => {
                        return Err(at(
                            w.span(),
                            format!("{name} waits on no earlier step; remove wait_days"),
                        ));
                    }
                };
                policy.steps.push(Step {
                    name,
                    dpd,
                    to,
                    wait_days,
                    task,
                });
            }
            for step in &policy.steps {
                if let Some(needed) = step.name.waits_for()
                    && policy.step(needed).is_none()
                {
                    return Err(PolicyError {
                        line: None,
                        message: format!(
                            "{} waits on {needed}, which the policy does not have",
                            step.name
                        ),
                    });
                }
            }
        }
        Ok(policy)
    }

    pub fn step(&self, name: StepName) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Days a final notice must precede suspension (the suspend step's
    /// wait; 7 if a policy has no suspend step).
    pub fn suspend_wait_days(&self) -> u32 {
        self.step(StepName::Suspend).map_or(7, |s| s.wait_days)
    }

    /// The TOML text of this policy (what `Policy::from_toml` reads back).
    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "min_balance = \"{}\"\ncollections_min = \"{}\"\nbusiness_days_only = {}\nrun_hour = {}\n\
             promise_max_days = {}\npromises_per_episode = {}\n",
            self.min_balance,
            self.collections_min,
            self.business_days_only,
            self.run_hour,
            self.promise_max_days,
            self.promises_per_episode
        );
        for s in &self.steps {
            let kind = serde_json::to_value(s.name.kind()).ok();
            let roles: Vec<String> = s.to.iter().map(|r| format!("\"{}\"", r.as_str())).collect();
            out.push_str(&format!(
                "\n[[step]]\nname = \"{}\"\nkind = {}\ndpd = {}\nto = [{}]\n",
                s.name,
                kind.map(|k| k.to_string()).unwrap_or_default(),
                s.dpd,
                roles.join(", ")
            ));
            if s.name.waits_for().is_some() {
                out.push_str(&format!("wait_days = {}\n", s.wait_days));
            }
            if let Some(task) = &s.task {
                let to: Vec<String> = task
                    .to
                    .iter()
                    .map(|r| format!("\"{}\"", r.as_str()))
                    .collect();
                out.push_str(&format!("task = \"call\"\ntask_to = [{}]\n", to.join(", ")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_spec_table_and_round_trips_through_toml() {
        let p = Policy::default();
        let rows: Vec<(&str, u32)> = p.steps.iter().map(|s| (s.name.as_str(), s.dpd)).collect();
        assert_eq!(
            rows,
            [
                ("reminder_1", 1),
                ("reminder_2", 7),
                ("final_notice", 14),
                ("suspend", 21),
                ("cancel", 45),
                ("collections_notice", 50),
                ("collections", 60)
            ]
        );
        assert_eq!(p.min_balance.to_string(), "1.00");
        assert_eq!(p.collections_min.to_string(), "500.00");
        assert!(p.step(StepName::Collections).unwrap().to.is_empty());
        assert_eq!(Policy::from_toml(&p.to_toml()).unwrap(), p);
        assert_eq!(
            Policy::from_toml("").unwrap(),
            p,
            "an empty file is the default"
        );
    }

    #[test]
    fn steps_may_ask_staff_to_call() {
        let d = Policy::default();
        let call = |p: &Policy, s| p.step(s).and_then(|s| s.task.clone()).map(|t| t.to);
        assert_eq!(call(&d, StepName::Reminder2), Some(vec![Role::Billing]));
        assert_eq!(
            call(&d, StepName::FinalNotice),
            Some(vec![Role::Escalation])
        );
        assert_eq!(call(&d, StepName::Reminder1), None);
        let p = Policy::from_toml(
            "[[step]]\nname = \"reminder_1\"\ndpd = 3\nto = [\"billing\"]\ntask = \"call\"\n",
        )
        .unwrap();
        assert_eq!(
            call(&p, StepName::Reminder1),
            Some(vec![Role::Billing]),
            "task_to defaults to `to`"
        );
        assert_eq!(Policy::from_toml(&p.to_toml()).unwrap(), p);
        let bad = Policy::from_toml(
            "[[step]]\nname = \"reminder_1\"\ndpd = 3\nto = [\"billing\"]\ntask = \"visit\"\n",
        )
        .unwrap_err();
        assert_eq!(bad.line, Some(5));
        assert!(bad.message.contains("unknown task"), "{bad}");
    }

    #[test]
    fn promise_limits_are_read_and_kept() {
        let p = Policy::from_toml("promise_max_days = 7\npromises_per_episode = 0\n").unwrap();
        assert_eq!((p.promise_max_days, p.promises_per_episode), (7, 0));
        assert_eq!(Policy::from_toml(&p.to_toml()).unwrap(), p);
        let d = Policy::default();
        assert_eq!((d.promise_max_days, d.promises_per_episode), (14, 1));
    }

    #[test]
    fn the_shipped_policy_file_is_the_default() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy/default.toml");
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(Policy::from_toml(&text).unwrap(), Policy::default());
    }

    #[test]
    fn bad_policies_name_the_line() {
        let cases = [
            (
                "min_balance = \"1.00\"\n[[step]]\nname = \"reminder_9\"\ndpd = 1\nto = [\"billing\"]\n",
                3,
                "unknown step name",
            ),
            (
                "[[step]]\nname = \"reminder_1\"\ndpd = 5\nto = []\n[[step]]\nname = \"reminder_2\"\ndpd = 3\nto = []\n",
                7,
                "out of order",
            ),
            ("min_balance = \"-1.00\"\n", 1, "non-negative"),
            ("collections_min = \"lots\"\n", 1, "non-negative"),
            ("run_hour = 24\n", 1, "0 to 23"),
            ("promise_max_days = 0\n", 1, "1 to 3650"),
            ("\npromises_per_episode = 11\n", 2, "0 to 10"),
            // Once accepted, and every run panicked on the date arithmetic.
            (
                "[[step]]\nname = \"final_notice\"\ndpd = 14\nto = []\n[[step]]\nname = \"suspend\"\ndpd = 21\nto = []\nwait_days = 4294967295\n",
                9,
                "0 to 3650",
            ),
            (
                "[[step]]\nname = \"reminder_1\"\ndpd = 4000\nto = []\n",
                3,
                "1 to 3650",
            ),
            ("min_balance = \"1e30\"\n", 1, "non-negative"),
            (
                "collections_min = \"99999999999999999999\"\n",
                1,
                "non-negative",
            ),
            ("\n\nsurprise = 1\n", 3, "surprise"),
            (
                "[[step]]\nname = \"final_notice\"\nkind = \"reminder\"\ndpd = 14\nto = []\n",
                3,
                "kind",
            ),
            (
                "[[step]]\nname = \"suspend\"\ndpd = 21\nto = [\"boss\"]\n",
                4,
                "role",
            ),
            (
                "[[step]]\nname = \"cancel\"\ndpd = 1\nto = []\n[[step]]\nname = \"suspend\"\ndpd = 2\nto = []\n",
                6,
                "after",
            ),
        ];
        for (text, line, words) in cases {
            let err = Policy::from_toml(text).unwrap_err();
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert!(err.to_string().contains(words), "{text}: {err}");
        }
        let missing =
            Policy::from_toml("[[step]]\nname = \"suspend\"\ndpd = 21\nto = []\n").unwrap_err();
        assert!(missing.message.contains("final_notice"), "{missing}");
    }
}
