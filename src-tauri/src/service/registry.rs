//! The admin's registry of relying applications (clients) and break-glass
//! principals (issue 15, item 4), as `countersign client add` and
//! `countersign principal add` do it: an admin console session, the
//! admin's two factors for the act, the engine's rules and its logged
//! `client.added` / `principal.added` events.

use super::admin::admin_act;
use super::*;
use crate::ipc::Code;
use countersign_engine::{ClientView, NewClientCredential, RegisteredPrincipal};

fn client_info(v: ClientView) -> ipc::ClientInfo {
    ipc::ClientInfo {
        id: v.id,
        name: v.name,
        scopes: v.scopes.into_iter().collect(),
        auth_method: v.auth_method,
        created_ms: v.created_ms,
    }
}

fn principal_info(p: RegisteredPrincipal) -> ipc::PrincipalInfo {
    ipc::PrincipalInfo {
        id: p.principal.id,
        kind: p.principal.kind.as_str().into(),
        owner: p.principal.owner,
        scopes: p.principal.scopes.into_iter().collect(),
        clients: p.clients.into_iter().collect(),
        description: p.principal.description,
    }
}

pub fn list_clients(sh: &Shared) -> Res<Vec<ipc::ClientInfo>> {
    sh.gated(ConsoleRole::Admin, "list_clients", |e, _| {
        Ok(e.list_clients()?.into_iter().map(client_info).collect())
    })
}

pub fn list_principals(sh: &Shared) -> Res<Vec<ipc::PrincipalInfo>> {
    sh.gated(ConsoleRole::Admin, "list_principals", |e, _| {
        Ok(e.list_principals()?
            .into_iter()
            .map(principal_info)
            .collect())
    })
}

/// Registers a client, then reads the kiosk pin its relying application
/// pins (the API's TLS certificate is made if missing, as the CLI does).
pub fn add_client(sh: &Shared, r: ipc::AddClientRequest) -> Res<ipc::ClientAdded> {
    let cred = match (r.secret.clone(), r.public_key.clone()) {
        (Some(s), None) => NewClientCredential::Secret(s),
        (None, Some(k)) => NewClientCredential::PublicKeyHex(k),
        _ => {
            return Err(EngineError::Invalid(
                "a client has a secret or a public key, one of the two".into(),
            )
            .into())
        }
    };
    let purpose = format!("client add {}", r.id);
    let v = admin_act(sh, "add_client", &r.auth, &purpose, |e, pass| {
        e.add_client(
            pass,
            &r.id,
            &r.name,
            r.scopes.iter().cloned().collect(),
            cred,
        )
    })?;
    let pin = countersign_api::tls::pin(&sh.data_dir).map_err(|e| match e {
        countersign_api::ApiError::Engine(e) => IpcError::from(e),
        other => IpcError::new(Code::ApiTls, other.to_string()),
    })?;
    let pin_json = serde_json::to_string_pretty(&pin)
        .map_err(|e| IpcError::new(codes::INTERNAL, e.to_string()))?;
    Ok(ipc::ClientAdded {
        client: client_info(v),
        pin_json,
    })
}

pub fn add_principal(sh: &Shared, r: ipc::AddPrincipalRequest) -> Res<ipc::PrincipalInfo> {
    let purpose = format!("principal add {}", r.id);
    admin_act(sh, "add_principal", &r.auth, &purpose, |e, pass| {
        let kind = r.kind.parse().map_err(EngineError::Invalid)?;
        e.add_principal(
            pass,
            &r.id,
            kind,
            &r.owner,
            r.scopes.iter().cloned().collect(),
            r.clients.iter().cloned().collect(),
            &r.description,
        )
    })
    .map(principal_info)
}
