//! The admin's acts in the console (issue 15, item 4): people, their roles,
//! lockouts and credentials, and the policy. Two locks on each act:
//! - the console session must be an admin's ([`Shared::gated`]: refused and
//!   recorded otherwise, `console.*` codes);
//! - the act itself is signed by a fresh two-factor sign-in of that same
//!   admin ([`Engine::admin_sign_in`], recorded as `supervisor.auth` with the
//!   act as its purpose, success or failure, lockout as for any sign-in).
//!
//! The registry rules (ids, roles, chained `person.*` events, `by`) are the
//! engine's: this module maps IPC types and calls it, nothing more. A TOTP
//! secret is returned once by [`issue_credentials`] and kept nowhere here.

use super::*;
use countersign_engine::AdminPass;

/// Runs `f` as the console's admin, with the admin's factors for this act.
pub(super) fn admin_act<T>(
    sh: &Shared,
    command: &str,
    auth: &ipc::AdminAuth,
    purpose: &str,
    f: impl FnOnce(&mut Engine, &AdminPass) -> Result<T, EngineError>,
) -> Res<T> {
    sh.gated(ConsoleRole::Admin, command, |e, console| {
        let pass = e.admin_sign_in(console.person(), &auth.secret, &auth.otp, purpose)?;
        f(e, &pass)
    })
}

fn roles(names: &[String]) -> Result<Vec<Role>, EngineError> {
    names
        .iter()
        .map(|s| s.parse::<Role>().map_err(EngineError::Invalid))
        .collect()
}

fn person_view(p: countersign_engine::PersonView) -> ipc::Person {
    ipc::Person {
        id: p.id,
        display_name: p.display_name,
        roles: p.roles.iter().map(name).collect(),
        has_credentials: p.has_credentials,
        failed_auths: p.failed_auths,
        locked: p.locked,
    }
}

pub fn add_person(sh: &Shared, r: ipc::AddPersonRequest) -> Res<ipc::Person> {
    let purpose = format!("people add {}", r.id);
    admin_act(sh, "add_person", &r.auth, &purpose, |e, pass| {
        let roles = roles(&r.roles)?;
        e.add_person(pass, &r.id, &r.display_name, roles)
    })
    .map(person_view)
}

pub fn set_roles(sh: &Shared, r: ipc::SetRolesRequest) -> Res<ipc::Person> {
    let purpose = format!("people roles {}", r.id);
    admin_act(sh, "set_roles", &r.auth, &purpose, |e, pass| {
        let roles = roles(&r.roles)?;
        e.set_roles(pass, &r.id, roles)
    })
    .map(person_view)
}

pub fn unlock_person(sh: &Shared, r: ipc::UnlockRequest) -> Res<ipc::Person> {
    let purpose = format!("people unlock {}", r.id);
    admin_act(sh, "unlock_person", &r.auth, &purpose, |e, pass| {
        e.unlock(pass, &r.id)
    })
    .map(person_view)
}

/// Enrolls a password and a fresh TOTP secret for a person. The secret is
/// in the answer, once, as text and as a QR code; nothing here keeps it.
pub fn issue_credentials(
    sh: &Shared,
    r: ipc::IssueCredentialsRequest,
) -> Res<ipc::IssuedCredentials> {
    let purpose = format!("people credentials {}", r.id);
    let p = admin_act(sh, "issue_credentials", &r.auth, &purpose, |e, pass| {
        e.set_credentials(pass, &r.id, &r.password)
    })?;
    let qr = qr_svg_data_url(&p.otpauth_uri)?;
    Ok(ipc::IssuedCredentials {
        person: p.person,
        totp_secret_base32: p.totp_secret_base32,
        otpauth_uri: p.otpauth_uri,
        qr_svg_data_url: qr,
    })
}

/// `text` as a QR code, an SVG `data:` URL.
pub fn qr_svg_data_url(text: &str) -> Res<String> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| IpcError::new(codes::INTERNAL, format!("making the QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        data_encoding::BASE64.encode(svg.as_bytes())
    ))
}

/// The policy in force, as its source (admin session).
pub fn policy_source(sh: &Shared) -> Res<ipc::PolicySource> {
    sh.gated(ConsoleRole::Admin, "policy_source", |e, _| {
        let (toml, sha256) = e.policy_source()?;
        Ok(ipc::PolicySource { toml, sha256 })
    })
}

/// Largest proposed policy the console diffs or applies.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

fn check_size(src: &str) -> Result<(), EngineError> {
    if src.len() > MAX_POLICY_BYTES {
        return Err(EngineError::Invalid(format!(
            "a policy is at most {MAX_POLICY_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A proposed policy against the one in force, line by line, with the
/// engine's verdict on it (admin session; nothing is applied).
pub fn policy_diff(sh: &Shared, proposed: String) -> Res<ipc::PolicyDiff> {
    sh.gated(ConsoleRole::Admin, "policy_diff", |e, _| {
        check_size(&proposed)?;
        let (current, _) = e.policy_source()?;
        let error = e.check_policy(&proposed).err().map(|x| x.to_string());
        let lines = line_diff(&current, &proposed);
        let changed = lines.iter().any(|l| l.op != "same");
        Ok(ipc::PolicyDiff {
            lines,
            changed,
            error,
        })
    })
}

/// Puts a proposed policy in force ([`Engine::apply_policy`]).
pub fn apply_policy(sh: &Shared, r: ipc::ApplyPolicyRequest) -> Res<ipc::PolicySource> {
    admin_act(sh, "apply_policy", &r.auth, "policy apply", |e, pass| {
        check_size(&r.toml)?;
        let sha256 = e.apply_policy(pass, &r.toml)?;
        Ok(ipc::PolicySource {
            toml: r.toml.clone(),
            sha256,
        })
    })
}

/// Largest line table [`line_diff`] builds (4 bytes a cell, 16 MB).
const MAX_DIFF_CELLS: usize = 4_000_000;

/// A longest-common-subsequence line diff (display only). Past
/// [`MAX_DIFF_CELLS`] (policies of thousands of lines) it shows every old
/// line removed and every new line added rather than allocate more.
pub(crate) fn line_diff(a: &str, b: &str) -> Vec<ipc::DiffLine> {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let (n, m) = (a.len(), b.len());
    let line = |op: &str, t: &str| ipc::DiffLine {
        op: op.into(),
        text: t.into(),
    };
    if (n + 1).saturating_mul(m + 1) > MAX_DIFF_CELLS {
        let removed = a.iter().map(|t| line("removed", t));
        return removed.chain(b.iter().map(|t| line("added", t))).collect();
    }
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(line("same", a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(line("removed", a[i]));
            i += 1;
        } else {
            out.push(line("added", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::line_diff;

    fn ops(a: &str, b: &str) -> Vec<(String, String)> {
        line_diff(a, b)
            .into_iter()
            .map(|l| (l.op, l.text))
            .collect()
    }

    #[test]
    fn a_changed_line_is_removed_then_added_between_the_same_lines() {
        let d = ops("a\nb = 1\nc", "a\nb = 2\nc");
        let want = [
            ("same", "a"),
            ("removed", "b = 1"),
            ("added", "b = 2"),
            ("same", "c"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(o, t)| (o.to_string(), t.to_string()))
            .collect();
        assert_eq!(d, want);
    }

    #[test]
    fn a_huge_proposal_is_shown_whole_without_the_line_table() {
        let big: String = (0..3000).map(|i| format!("# line {i}\n")).collect();
        let d = line_diff(&big, &format!("{big}x = 1\n"));
        assert_eq!(d.len(), 3000 + 3001);
        assert!(d[..3000].iter().all(|l| l.op == "removed"));
        assert!(d[3000..].iter().all(|l| l.op == "added"));
    }
}
