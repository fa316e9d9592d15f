//! People and roles. A person may hold several roles; separation of duties is
//! checked per case (see [`crate::session`] and [`crate::override_case`]), not
//! by forbidding role combinations.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Proves who they are before a privileged action.
    Operator,
    /// Grants time-bound overrides when the operator's primary match cannot complete.
    Supervisor,
    /// Reviews and closes every override.
    Reviewer,
    /// Manages people, enrollment and policy.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Operator,
        Role::Supervisor,
        Role::Reviewer,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Supervisor => "supervisor",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?} (expected operator, supervisor, reviewer or admin)")
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub display_name: String,
    pub roles: BTreeSet<Role>,
}

impl Person {
    pub fn new(
        id: impl Into<String>,
        display_name: impl Into<String>,
        roles: impl IntoIterator<Item = Role>,
    ) -> Self {
        Person {
            id: id.into(),
            display_name: display_name.into(),
            roles: roles.into_iter().collect(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// `Ok` when the person holds `role`, else the refusal naming both.
    pub fn require(&self, role: Role) -> Result<(), crate::Refusal> {
        if self.has(role) {
            Ok(())
        } else {
            Err(crate::Refusal::MissingRole {
                person: self.id.clone(),
                role,
            })
        }
    }
}

/// Validates a person id: 1..=64 characters of `[a-z0-9._-]`, so ids are
/// safe in file names, object keys and log lines.
pub fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 {
        return Err(format!(
            "person id must be 1 to 64 characters, got {}",
            id.len()
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "person id {id:?} contains {c:?}; use lowercase letters, digits, '.', '_' or '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().unwrap_err().contains("unknown role"));
    }

    #[test]
    fn ids_are_restricted() {
        assert!(validate_id("alice.smith-2").is_ok());
        assert!(validate_id("").is_err());
        assert!(validate_id("Alice").is_err());
        assert!(validate_id("a/b").is_err());
        assert!(validate_id(&"a".repeat(65)).is_err());
    }

    #[test]
    fn require_names_person_and_role() {
        let p = Person::new("bob", "Bob", [Role::Operator]);
        assert!(p.require(Role::Operator).is_ok());
        assert_eq!(
            p.require(Role::Supervisor).unwrap_err().to_string(),
            "bob does not hold the supervisor role"
        );
    }
}
