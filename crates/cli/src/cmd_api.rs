//! `countersign api|client|assertion|principal|breakglass`: the local API
//! for relying applications and break-glass for non-human identities.

use std::collections::BTreeSet;
use std::io::Read;

use anyhow::Context;
use countersign_assertion::client::ApiClient;
use countersign_assertion::pin::KioskPin;
use countersign_assertion::{
    AssertionError, Expectations, FileReplayStore, OverrideStatus, OverrideStatusSource,
    ReplayStore,
};
use countersign_core::session::{GrantRequest, Trigger};
use countersign_core::PrincipalKind;
use countersign_engine::{Clock, Engine, NewClientCredential, SystemClock};

use crate::args::{ApiCmd, AssertionCmd, BreakglassCmd, Cli, ClientCmd, PrincipalCmd};
use crate::util::{fmt_time, parse_duration, print_json, read_secret};

/// The kiosk pin of this data dir (the API's certificate made if missing).
fn kiosk_pin(cli: &Cli) -> anyhow::Result<KioskPin> {
    countersign_api::tls::pin(&cli.data_dir).map_err(|e| match e {
        countersign_api::ApiError::Engine(e) => e.into(),
        other => crate::Coded {
            code: countersign_engine::Code::ApiTls,
            message: other.to_string(),
        }
        .into(),
    })
}

/// Writes the pin to `path` and says what it holds.
fn write_pin(pin: &KioskPin, path: &std::path::Path, human: bool) -> anyhow::Result<()> {
    let mut json = serde_json::to_vec_pretty(pin)?;
    json.push(b'\n');
    countersign_assertion::write_atomic(path, &json)
        .with_context(|| format!("writing the kiosk pin {}", path.display()))?;
    if human {
        println!("kiosk issuer: {}", pin.issuer);
        println!(
            "kiosk key (RFC 7638 JWK thumbprint): {}",
            pin.key_thumbprint
        );
        println!("API TLS certificate SHA-256: {}", pin.tls_cert_sha256);
        println!(
            "kiosk pin written to {}: point the relying application at it (relying-app --kiosk-pin, countersign assertion verify --kiosk-pin)",
            path.display()
        );
    }
    Ok(())
}

pub fn api(cli: &Cli, c: &ApiCmd) -> anyhow::Result<()> {
    match c {
        ApiCmd::Pin { out } => {
            crate::open(cli)?;
            let pin = kiosk_pin(cli)?;
            write_pin(&pin, out, !cli.json)?;
            if cli.json {
                return print_json(&pin);
            }
            Ok(())
        }
        ApiCmd::Serve { port, port_file } => {
            crate::open(cli)?;
            let passed = listenfd::ListenFd::from_env()
                .take_tcp_listener(0)
                .context("the socket passed by systemd (LISTEN_FDS)")?;
            let server = match passed {
                Some(listener) => countersign_api::Server::from_listener(&cli.data_dir, listener),
                None => countersign_api::Server::bind(&cli.data_dir, *port),
            }
            // One `error[code]: message` line (it printed `error: error[..]`).
            .map_err(|e| crate::Coded {
                code: e.code(),
                message: e.to_string(),
            })?;
            let addr = server.local_addr();
            if let Some(p) = port_file {
                countersign_assertion::write_atomic(p, addr.port().to_string().as_bytes())
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            println!(
                "countersign API listening on https://{addr} (TLS certificate SHA-256 {}; relying applications pin it: countersign api pin)",
                server.pin().tls_cert_sha256
            );
            use std::io::Write;
            let _ = std::io::stdout().flush();
            // SIGTERM or Ctrl-C stops the server after the request in hand,
            // and it writes the failed-authentication aggregates it holds.
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = stop.clone();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the signal handler")?;
            let (mut term, mut int) = {
                use tokio::signal::unix::{signal, SignalKind};
                let _in = rt.enter();
                (
                    signal(SignalKind::terminate()).context("handling SIGTERM")?,
                    signal(SignalKind::interrupt()).context("handling SIGINT")?,
                )
            };
            std::thread::spawn(move || {
                rt.block_on(std::future::poll_fn(|cx| {
                    if term.poll_recv(cx).is_ready() || int.poll_recv(cx).is_ready() {
                        std::task::Poll::Ready(())
                    } else {
                        std::task::Poll::Pending
                    }
                }));
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            server.serve_until(&stop);
            Ok(())
        }
    }
}

pub fn client(cli: &Cli, c: &ClientCmd) -> anyhow::Result<()> {
    let mut e = crate::open(cli)?;
    match c {
        ClientCmd::Add {
            id,
            name,
            scope,
            public_key,
            pin_out,
            admin,
        } => {
            let pass = crate::cmd_people::admin_pass(&mut e, admin, &format!("client add {id}"))?;
            let cred = match public_key {
                Some(f) => NewClientCredential::PublicKeyHex(
                    std::fs::read_to_string(f)
                        .with_context(|| format!("reading the public key {}", f.display()))?,
                ),
                None => NewClientCredential::Secret(crate::util::read_new_secret(&format!(
                    "client {id}'s secret"
                ))?),
            };
            let v = e.add_client(&pass, id, name, scope.iter().cloned().collect(), cred)?;
            drop(e);
            let pin = kiosk_pin(cli)?;
            let pin_path = pin_out
                .clone()
                .unwrap_or_else(|| format!("kiosk-pin-{id}.json").into());
            if cli.json {
                write_pin(&pin, &pin_path, false)?;
                let mut out = serde_json::to_value(&v)?;
                out["kiosk_pin"] = serde_json::to_value(&pin)?;
                out["kiosk_pin_file"] = pin_path.display().to_string().into();
                return print_json(&out);
            }
            println!(
                "client {} ({}) may ask for {} ({})",
                v.id,
                v.name,
                v.scopes.iter().cloned().collect::<Vec<_>>().join(","),
                v.auth_method
            );
            write_pin(&pin, &pin_path, true)?;
            Ok(())
        }
        ClientCmd::List => {
            let all = e.list_clients()?;
            if cli.json {
                return print_json(&all);
            }
            for v in all {
                println!(
                    "{}\t{}\t{}\t{}",
                    v.id,
                    v.auth_method,
                    v.scopes.iter().cloned().collect::<Vec<_>>().join(","),
                    v.name
                );
            }
            Ok(())
        }
        ClientCmd::Requests => {
            let all = e.open_stepup_requests()?;
            if cli.json {
                return print_json(&all);
            }
            if all.is_empty() {
                println!("no open step-up requests");
            }
            for r in all {
                println!(
                    "{}\t{} ({})\t{}\tacr_values {}\tsince {}{}",
                    r.request_id,
                    r.client_name,
                    r.client_id,
                    r.scope.iter().cloned().collect::<Vec<_>>().join(","),
                    if r.acr_values.is_empty() {
                        "any".to_string()
                    } else {
                        r.acr_values.join(" ")
                    },
                    fmt_time(r.created_ms),
                    if r.fallback_offered {
                        "\tfallback offered"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
    }
}

/// Override status read straight from the data dir.
struct LocalStatus<'a>(&'a Engine);

impl OverrideStatusSource for LocalStatus<'_> {
    fn override_status(&self, id: &str) -> Result<Option<OverrideStatus>, AssertionError> {
        self.0
            .override_status(id)
            .map_err(|e| AssertionError::StatusUnavailable(e.to_string()))
    }
}

pub fn assertion(cli: &Cli, c: &AssertionCmd) -> anyhow::Result<()> {
    let AssertionCmd::Verify {
        token,
        audience,
        nonce,
        scope,
        max_age,
        acr,
        api,
        kiosk_pin: pin_file,
        replay_store,
        no_replay_check,
        accept_demo,
    } = c;
    let token = if token == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.trim().to_string()
    } else {
        token.clone()
    };
    let mut x = Expectations::new(audience, SystemClock.now_ms() / 1000);
    x.nonce = nonce.clone();
    x.required_scope = scope.clone();
    x.max_age_s = *max_age;
    x.accepted_acr = acr.clone();
    x.accept_demo = *accept_demo;
    // Everything but single use first, so a bad token says what is wrong
    // with it whatever the replay options.
    let refused = |err: AssertionError| crate::Coded {
        code: err.code(),
        message: format!("refused: {err}"),
    };
    let checked = match (api, pin_file) {
        (Some(url), Some(pin_file)) => {
            // Only the pinned key, only the pinned kiosk: the secret is sent
            // once the TLS handshake proved the server holds the pinned
            // certificate's key, and the key it serves must be the pinned one.
            let pin = KioskPin::load(pin_file).map_err(refused)?;
            x.issuer = Some(pin.issuer.clone());
            let secret = std::env::var("COUNTERSIGN_CLIENT_SECRET").unwrap_or_default();
            let client = ApiClient::new(url, &pin, audience, &secret).map_err(refused)?;
            let jwks = client.jwks().map_err(refused)?;
            countersign_assertion::check(&token, &jwks, &x, Some(&client))
        }
        (None, Some(pin_file)) => {
            let pin = KioskPin::load(pin_file).map_err(refused)?;
            let e = crate::open(cli)?;
            if e.issuer() != pin.issuer || e.jwks() != pin.jwks() {
                return Err(refused(AssertionError::KeyMismatch {
                    pinned: pin.key_thumbprint.clone(),
                    served: e
                        .jwks()
                        .keys
                        .iter()
                        .map(|k| k.kid.clone())
                        .collect::<Vec<_>>()
                        .join(","),
                })
                .into());
            }
            x.issuer = Some(pin.issuer.clone());
            countersign_assertion::check(&token, &pin.jwks(), &x, Some(&LocalStatus(&e)))
        }
        (Some(_), None) => unreachable!("clap requires --kiosk-pin with --api"),
        (None, None) => {
            let e = crate::open(cli)?;
            x.issuer = Some(e.issuer());
            let jwks = e.jwks();
            countersign_assertion::check(&token, &jwks, &x, Some(&LocalStatus(&e)))
        }
    };
    let claims = checked.map_err(refused)?;
    // Single use: a token is only valid once, and only a replay store can
    // tell. Without one, nothing is called valid unless the caller says
    // they check single use elsewhere (--no-replay-check).
    let replay_checked = match (replay_store, no_replay_check) {
        (Some(p), _) => {
            let mut store = FileReplayStore::new(p);
            if !store
                .first_use(&claims.jti, claims.exp, x.now_s)
                .map_err(refused)?
            {
                return Err(refused(AssertionError::Replayed(claims.jti.clone())).into());
            }
            true
        }
        (None, true) => false,
        (None, false) => {
            return Err(crate::Coded {
                code: countersign_engine::Code::AssertionNoReplayStore,
                message: format!(
                    "not called valid: assertion {} passed every other check, but without \
                     --replay-store FILE nothing shows it was not used before; pass \
                     --replay-store, or --no-replay-check if single use is checked elsewhere",
                    claims.jti
                ),
            }
            .into())
        }
    };
    if cli.json {
        if !replay_checked {
            eprintln!(
                "replay check skipped (--no-replay-check): single use of {} was not checked",
                claims.jti
            );
        }
        return print_json(&claims);
    }
    println!(
        "valid: {} for {} (acr {}, amr {}, scope {}) until {}",
        claims.sub,
        claims.aud,
        claims.acr,
        claims.amr.join(" "),
        claims.scope,
        fmt_time(claims.exp * 1000)
    );
    if let Some(o) = &claims.override_ {
        println!(
            "override {} by {} ({}; control: {}) until {}",
            o.id,
            o.supervisor,
            o.reason_code,
            o.compensating_control,
            fmt_time(o.expires_at * 1000)
        );
    }
    if claims.countersign_demo {
        println!("DEMO: signed by a demo kiosk (countersign init --demo); accepted because of --accept-demo");
    }
    if replay_checked {
        println!("single use: jti {} recorded as used", claims.jti);
    } else {
        println!(
            "replay check skipped (--no-replay-check): single use of jti {} was not checked; it may have been presented before",
            claims.jti
        );
    }
    Ok(())
}

pub fn principal(cli: &Cli, c: &PrincipalCmd) -> anyhow::Result<()> {
    let mut e = crate::open(cli)?;
    match c {
        PrincipalCmd::Add {
            id,
            kind,
            owner,
            scope,
            clients,
            description,
            admin,
        } => {
            let kind: PrincipalKind = kind.parse().map_err(anyhow::Error::msg)?;
            let pass =
                crate::cmd_people::admin_pass(&mut e, admin, &format!("principal add {id}"))?;
            let r = e.add_principal(
                &pass,
                id,
                kind,
                owner,
                scope.iter().cloned().collect(),
                clients.iter().cloned().collect(),
                description,
            )?;
            if cli.json {
                return print_json(&r);
            }
            let p = &r.principal;
            println!(
                "{} {} (owner {}) may get break-glass for {}{}",
                p.kind.as_str(),
                p.id,
                p.owner,
                p.scopes.iter().cloned().collect::<Vec<_>>().join(","),
                if r.clients.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", asked over the API by {}",
                        r.clients.iter().cloned().collect::<Vec<_>>().join(",")
                    )
                }
            );
            Ok(())
        }
        PrincipalCmd::List => {
            let all = e.list_principals()?;
            if cli.json {
                return print_json(&all);
            }
            for r in all {
                let p = &r.principal;
                println!(
                    "{}\t{}\towner {}\t{}\tclients {}",
                    p.id,
                    p.kind.as_str(),
                    p.owner,
                    p.scopes.iter().cloned().collect::<Vec<_>>().join(","),
                    r.clients.iter().cloned().collect::<Vec<_>>().join(",")
                );
            }
            Ok(())
        }
    }
}

pub fn breakglass(cli: &Cli, c: &BreakglassCmd) -> anyhow::Result<()> {
    let mut e = crate::open(cli)?;
    match c {
        BreakglassCmd::Request {
            principal,
            requester,
            otp,
            trigger,
            scope,
            detail,
        } => {
            let t: Trigger = serde_json::from_value(serde_json::Value::String(trigger.clone()))
                .map_err(|_| {
                    anyhow::anyhow!("unknown trigger {trigger:?} (issuer_down, certificate_expired or rotation_broken)")
                })?;
            let secret = read_secret(requester)?;
            let bg = e.request_breakglass(
                principal,
                requester,
                &secret,
                otp,
                t,
                scope.iter().cloned().collect(),
                detail,
            )?;
            if cli.json {
                return print_json(&bg);
            }
            println!(
                "break-glass {} requested by {} for {} ({}): {}",
                bg.id,
                bg.requester,
                bg.principal.id,
                bg.trigger,
                bg.requested_scope
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",")
            );
            println!("a supervisor may grant it: countersign breakglass grant {} --supervisor ID --otp CODE --reason CODE --note TEXT --control TEXT", bg.id);
            Ok(())
        }
        BreakglassCmd::Grant {
            request,
            fallback: f,
        } => {
            let sup = f
                .supervisor
                .as_deref()
                .context("--supervisor is required")?;
            let otp = f.otp.as_deref().context("--otp is required")?;
            let bg = e.resume_breakglass(request)?;
            let scope: BTreeSet<String> = if f.grant_scope.is_empty() {
                bg.requested_scope.clone()
            } else {
                f.grant_scope.iter().cloned().collect()
            };
            let req = GrantRequest {
                grant_id: String::new(),
                scope,
                duration_ms: f.duration.as_deref().map(parse_duration).transpose()?,
                reason_code: f.reason.clone().context("--reason is required")?,
                note: f.note.clone().context("--note is required")?,
                ticket: f.ticket.clone(),
                compensating_control: f.control.clone().context("--control is required")?,
            };
            let secret = read_secret(sup)?;
            let g = e.grant_breakglass(request, sup, &secret, otp, req)?;
            if cli.json {
                return print_json(&g);
            }
            println!(
                "break-glass override {} granted by {} to {} {} for {} until {} (review due {})",
                g.id,
                g.supervisor,
                g.principal_kind.as_str(),
                g.operator,
                g.scope.iter().cloned().collect::<Vec<_>>().join(","),
                fmt_time(g.expires_at),
                fmt_time(g.review_due)
            );
            Ok(())
        }
        BreakglassCmd::Deny {
            request,
            supervisor,
            otp,
            reason,
        } => {
            let secret = read_secret(supervisor)?;
            let bg = e.deny_breakglass(request, supervisor, &secret, otp, reason)?;
            if cli.json {
                return print_json(&bg);
            }
            println!(
                "break-glass {} for {} denied by {supervisor}: {reason}",
                bg.id, bg.principal.id
            );
            Ok(())
        }
        BreakglassCmd::List { limit, pending } => {
            let all = if *pending {
                e.pending_breakglass()?
            } else {
                e.list_breakglass(*limit)?
            };
            if cli.json {
                return print_json(&all);
            }
            for bg in all {
                println!(
                    "{}\t{}\t{}\t{}\tby {}\t{}",
                    bg.id,
                    bg.principal.id,
                    bg.trigger,
                    bg.state.name(),
                    bg.requester,
                    fmt_time(bg.requested_at)
                );
            }
            Ok(())
        }
        BreakglassCmd::Reconcile {
            grant,
            by,
            role,
            otp,
        } => {
            let role: countersign_core::Role = role.parse().map_err(anyhow::Error::msg)?;
            let secret = read_secret(by)?;
            let v = e.reconcile_breakglass(grant, by, role, &secret, otp)?;
            if cli.json {
                return print_json(&v);
            }
            println!("override {} reconciled: credential restored", grant);
            Ok(())
        }
    }
}
