use anyhow::Context;
use countersign_core::{Policy, Role};
use countersign_engine::{AdminPass, Engine};

use crate::args::{AdminArgs, Cli, PeopleCmd, PolicyCmd};

use crate::util::{print_json, read_new_secret, read_secret};

/// Signs the administrator of `a` in with two factors: the password from
/// COUNTERSIGN_SECRET or the first line of stdin, the code from `--otp`.
/// The engine records the attempt whatever its outcome.
pub fn admin_pass(e: &mut Engine, a: &AdminArgs, purpose: &str) -> anyhow::Result<AdminPass> {
    let secret = read_secret(&a.by)?;
    Ok(e.admin_sign_in(&a.by, &secret, &a.otp, purpose)?)
}

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
            admin,
        } => {
            let roles = roles(r)?;
            let pass = admin_pass(&mut e, admin, &format!("people add {id}"))?;
            let v = e
                .add_person(&pass, id, name, roles)
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
        PeopleCmd::Role {
            id,
            roles: r,
            admin,
        } => {
            let roles = roles(r)?;
            let pass = admin_pass(&mut e, admin, &format!("people role {id}"))?;
            let v = e
                .set_roles(&pass, id, roles)
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
        PeopleCmd::Credentials { id, admin } => {
            let pass = admin_pass(&mut e, admin, &format!("people credentials {id}"))?;
            let secret = read_new_secret(&format!("{id}'s new password"))?;
            let p = e
                .set_credentials(&pass, id, &secret)
                .with_context(|| format!("enrolling credentials for {id}"))?;
            if cli.json {
                return print_json(&p);
            }
            println!("password/PIN set for {id}; add this TOTP secret to their authenticator app now (it is not shown again):");
            println!("  secret: {}", p.totp_secret_base32);
            println!("  uri:    {}", p.otpauth_uri);
        }
        PeopleCmd::Unlock { id, admin } => {
            let pass = admin_pass(&mut e, admin, &format!("people unlock {id}"))?;
            e.unlock(&pass, id)
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
        PolicyCmd::Apply { file, admin } => {
            let src = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let mut e = crate::open(cli)?;
            let pass = admin_pass(&mut e, admin, &format!("policy apply {}", file.display()))?;
            let sha = e
                .apply_policy(&pass, &src)
                .with_context(|| format!("{}", file.display()))?;
            println!("policy {sha} in force (applied by {})", pass.admin());
        }
    }
    Ok(())
}
