//! Staff tasks the ladder opens: a step whose policy carries a task (a call
//! to the contacts holding some roles) opens one when it fires, in its
//! episode. It stays open until a call's outcome closes it, and goes with
//! the episode when the episode ends. What each call found is recorded by a
//! `task_outcome` event, so it is in the timeline.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::AccountState;
use super::ledger::Episode;
use super::vocabulary::ApplyError;
use crate::domain::EmailAddress;
use crate::domain::account::{Contact, Role};
use crate::domain::event::Event;
use crate::domain::policy::{Step, StepName};

/// What a call found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskOutcome {
    /// They said when they will pay (with a date, a hold is placed too).
    Promised,
    /// Nobody answered: the task stays open, to call again.
    NoAnswer,
    /// The number is not theirs: it is marked, and not offered again.
    WrongNumber,
    /// They dispute what is owed.
    Disputes,
}

impl TaskOutcome {
    pub const ALL: [Self; 4] = [
        Self::Promised,
        Self::NoAnswer,
        Self::WrongNumber,
        Self::Disputes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Promised => "promised",
            Self::NoAnswer => "no-answer",
            Self::WrongNumber => "wrong-number",
            Self::Disputes => "disputes",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|o| o.as_str()).collect();
                format!("{s:?} is not an outcome ({})", known.join(", "))
            })
    }

    /// Whether the call settled the task (a no-answer leaves it to do).
    pub fn closes(self) -> bool {
        self != Self::NoAnswer
    }
}

/// One call made for a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAttempt {
    pub outcome: TaskOutcome,
    pub note: String,
    pub on: NaiveDate,
    /// Who was called, when staff said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<EmailAddress>,
}

/// A call the ladder asks staff to make, named by the step that opened it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub step: StepName,
    /// Call the contacts holding these roles.
    pub to: Vec<Role>,
    pub opened: NaiveDate,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<TaskAttempt>,
}

impl Task {
    pub fn is_open(&self) -> bool {
        !self.attempts.iter().any(|a| a.outcome.closes())
    }

    /// Its name in `pastdue tasks` and `pastdue task done`.
    pub fn id(&self) -> &'static str {
        self.step.as_str()
    }
}

impl Episode {
    /// Opens `step`'s task on `date`, if its policy has one and it is not
    /// open already (a final notice sent again opens nothing new).
    pub fn open_task(&mut self, step: &Step, date: NaiveDate) {
        if let Some(task) = &step.task
            && !self.tasks.iter().any(|t| t.step == step.name)
        {
            self.tasks.push(Task {
                step: step.name,
                to: task.to.clone(),
                opened: date,
                attempts: Vec::new(),
            });
        }
    }
}

impl AccountState {
    /// The tasks of the current episode still to do, oldest first.
    pub fn open_tasks(&self) -> Vec<&Task> {
        self.episode
            .iter()
            .flat_map(|e| &e.tasks)
            .filter(|t| t.is_open())
            .collect()
    }

    /// Who a task calls: the contacts holding its roles, else (as for
    /// email, spec §5.3) the primary contacts, then anyone; those with a
    /// number that works first.
    pub fn task_contacts(&self, task: &Task) -> Vec<&Contact> {
        let mut contacts: Vec<&Contact> = self
            .account
            .contacts
            .iter()
            .filter(|c| task.to.iter().any(|r| c.roles.contains(r)))
            .collect();
        if contacts.is_empty() {
            contacts = self.account.recipients(&[Role::Primary]);
        }
        contacts.sort_by_key(|c| c.callable_phone().is_none());
        contacts
    }

    /// Checks a `task_outcome` before anything changes: its task is one of
    /// the current episode's, and a wrong number names a number to mark.
    pub(super) fn check_task_outcome(
        &self,
        event: &Event,
        task: StepName,
        outcome: TaskOutcome,
        contact: Option<&EmailAddress>,
    ) -> Result<(), ApplyError> {
        let refuse = |why: String| ApplyError::Task {
            event: event.id.clone(),
            why,
        };
        let found = self
            .episode
            .iter()
            .flat_map(|e| &e.tasks)
            .find(|t| t.step == task)
            .ok_or_else(|| refuse(format!("no {task} task in the current episode")))?;
        if let Some(email) = contact
            && !self.account.contacts.iter().any(|c| &c.email == email)
        {
            return Err(refuse(format!("{email} is not a contact of the account")));
        }
        if outcome == TaskOutcome::WrongNumber && self.called(found, contact).is_none() {
            return Err(refuse("no contact of the task has a number to mark".into()));
        }
        Ok(())
    }

    /// The contact a call reached: the one named, else the first the task
    /// calls that has a working number.
    fn called(&self, task: &Task, contact: Option<&EmailAddress>) -> Option<EmailAddress> {
        match contact {
            Some(email) => Some(email.clone()),
            None => self
                .task_contacts(task)
                .into_iter()
                .find(|c| c.callable_phone().is_some())
                .map(|c| c.email.clone()),
        }
    }

    /// Records a checked call on `date`; a wrong number marks the phone.
    pub(super) fn record_task_outcome(
        &mut self,
        task: StepName,
        attempt: TaskAttempt,
        date: NaiveDate,
    ) -> bool {
        let Some(found) = self
            .episode
            .iter()
            .flat_map(|e| &e.tasks)
            .find(|t| t.step == task)
            .cloned()
        else {
            return false;
        };
        if attempt.outcome == TaskOutcome::WrongNumber
            && let Some(email) = self.called(&found, attempt.contact.as_ref())
            && let Some(c) = self.account.contacts.iter_mut().find(|c| c.email == email)
        {
            c.phone_wrong = Some(format!(
                "wrong number on a call on {date}: {}",
                attempt.note
            ));
        }
        if let Some(t) = self
            .episode
            .iter_mut()
            .flat_map(|e| e.tasks.iter_mut())
            .find(|t| t.step == task)
        {
            t.attempts.push(attempt);
        }
        true
    }
}
