use anyhow::Context;
use countersign_core::{Policy, Role};

use crate::args::{Cli, PeopleCmd, PolicyCmd};
use crate::util::{print_json, read_secret};

fn roles(v: &[String]) -> anyhow::Result<Vec<Role>> {
    v.iter()
        .map(|r| r.trim().parse::<Role>().map_err(anyhow::Error::msg))
        .collect()
}

pub fn run(cli: &Cli, c: &PeopleCmd) -> anyhow::Result<()> {
    let mut e = crate::open(cli)?;
    match c {
        PeopleCmd::Add {
            id,
            name,
            roles: r,
            by,
        } => {
            let v = e
                .add_person(id, name, roles(r)?, by)
                .with_context(|| format!("adding {id}"))?;
            if cli.json {
                return print_json(&v);
            }
            println!(
                "added {} ({}) as {}",
                v.id,
                v.display_name,
                v.roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        PeopleCmd::List => {
            let people = e.list_people()?;
            if cli.json {
                return print_json(&people);
            }
            println!(
                "{:<16} {:<24} {:<36} {:<6} STATUS",
                "ID", "NAME", "ROLES", "2FA"
            );
            for p in people {
                let roles = p
                    .roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                let status = if p.locked {
                    "LOCKED".to_string()
                } else if p.failed_auths > 0 {
                    format!("{} failed", p.failed_auths)
                } else {
                    "ok".into()
                };
                println!(
                    "{:<16} {:<24} {:<36} {:<6} {}",
                    p.id,
                    p.display_name,
                    roles,
                    if p.has_credentials { "yes" } else { "-" },
                    status
                );
            }
        }
        PeopleCmd::Role { id, roles: r, by } => {
            let v = e
                .set_roles(id, roles(r)?, by)
                .with_context(|| format!("changing the roles of {id}"))?;
            println!(
                "{} is now {}",
                v.id,
                v.roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        PeopleCmd::Credentials { id, by } => {
            let secret = read_secret(id)?;
            let p = e
                .set_credentials(id, &secret, by)
                .with_context(|| format!("enrolling credentials for {id}"))?;
            if cli.json {
                return print_json(&p);
            }
            println!("password/PIN set for {id}; add this TOTP secret to their authenticator app now (it is not shown again):");
            println!("  secret: {}", p.totp_secret_base32);
            println!("  uri:    {}", p.otpauth_uri);
        }
        PeopleCmd::Unlock { id, by } => {
            e.unlock(id, by)
                .with_context(|| format!("unlocking {id}"))?;
            println!("{id} unlocked");
        }
    }
    Ok(())
}

pub fn policy(cli: &Cli, c: &PolicyCmd) -> anyhow::Result<()> {
    match c {
        PolicyCmd::Check { file } => {
            let path = file
                .clone()
                .unwrap_or_else(|| cli.data_dir.join("policy.toml"));
            let src = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            // As an EngineError, so the line carries the `policy.invalid` code
            // like every other policy refusal (`init --policy`, open).
            let p = Policy::from_toml(&src)
                .map_err(countersign_engine::EngineError::from)
                .with_context(|| format!("{}", path.display()))?;
            println!(
                "{} is valid: {} consecutive failures (PAD {}), {} s throttle, disabled after {}, overrides {}..{} min, review within {} h, {} scopes, {} reason codes",
                path.display(),
                p.consecutive_limit(),
                if p.attempts.pad_enabled { "on" } else { "off" },
                p.attempts.throttle_seconds,
                p.disable_limit(),
                p.overrides.default_duration_minutes,
                p.overrides.max_duration_minutes,
                p.overrides.review_deadline_hours,
                p.scopes.len(),
                p.reason_codes.len()
            );
        }
        PolicyCmd::Show => {
            let e = crate::open(cli)?;
            print_json(e.policy())?;
        }
    }
    Ok(())
}
