//! The TypeScript client, made from table.rs: `Commands` (one method per
//! command, with its documented arguments and result), `COMMAND_NAMES`, and
//! `commandClient(call)`, which turns an `invoke` into that interface. The UI
//! has no other list of commands (services/backend.ts uses it for the
//! window, the browser tests for the bridge to the real service).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{signatures, Signature};

/// Where the generated client lives, relative to the repository root.
pub const CLIENT_PATH: &str = "ui/src/lib/services/commands.gen.ts";

/// ts-rs's settings for the client: 64-bit integers are JSON numbers, as in
/// the bindings.
pub(super) fn ts_config() -> ts_rs::Config {
    ts_rs::Config::new().with_large_int("number")
}

/// `session_id` → `sessionId` (Tauri's argument names on the JS side).
fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in snake.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn doc(out: &mut String, lines: &[&str], indent: &str) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}/**");
    for l in lines {
        let _ = writeln!(out, "{indent} *{}", l.trim_end());
    }
    let _ = writeln!(out, "{indent} */");
}

fn ret_ts(sig: &Signature) -> String {
    // `()` is `null` to ts-rs; the command resolves with nothing.
    if sig.ret.ts == "null" {
        "void".to_owned()
    } else {
        sig.ret.ts.clone()
    }
}

/// The client's source text.
pub fn client_ts() -> String {
    let sigs = signatures();
    let mut imports: BTreeMap<String, String> = BTreeMap::new();
    // Only the names the signatures spell (ts-rs lists every nested type).
    let words: std::collections::HashSet<&str> = sigs
        .iter()
        .flat_map(|s| s.args.iter().map(|a| &a.1).chain([&s.ret]))
        .flat_map(|t| t.ts.split(|c: char| !c.is_alphanumeric() && c != '_'))
        .collect();
    for s in &sigs {
        for (name, file) in s
            .args
            .iter()
            .flat_map(|a| &a.1.imports)
            .chain(&s.ret.imports)
        {
            if words.contains(name.as_str()) {
                imports.insert(name.clone(), file.trim_end_matches(".ts").to_owned());
            }
        }
    }
    let mut out = String::new();
    out.push_str(
        "// Generated from src-tauri/src/commands/table.rs; do not edit. Rewrite with\n\
         // `UPDATE_BINDINGS=1 cargo test -p countersign-app commands::client_ts`.\n\n",
    );
    for (name, file) in &imports {
        let _ = writeln!(out, "import type {{ {name} }} from '../bindings/{file}';");
    }
    out.push_str("\n/** Every command the window may call (table.rs's order). */\n");
    out.push_str("export const COMMAND_NAMES = [\n");
    for s in &sigs {
        let _ = writeln!(out, "  '{}',", s.name);
    }
    out.push_str("] as const;\n\nexport type CommandName = (typeof COMMAND_NAMES)[number];\n\n");
    out.push_str("/** One method per command: what the screens may ask of the Rust side. */\n");
    out.push_str("export interface Commands {\n");
    for s in &sigs {
        doc(&mut out, &s.docs, "  ");
        let args: Vec<String> = s
            .args
            .iter()
            .map(|(n, t)| format!("{}: {}", camel(n), t.ts))
            .collect();
        let _ = writeln!(
            out,
            "  {}({}): Promise<{}>;",
            camel(s.name),
            args.join(", "),
            ret_ts(s)
        );
    }
    out.push_str("}\n\n");
    out.push_str(
        "/** How a command reaches the Rust side: Tauri's `invoke`, or a test's bridge. */\n\
         export type Call = <T>(command: CommandName, args?: Record<string, unknown>) => Promise<T>;\n\n\
         /** The `Commands` interface over `call`. */\n\
         export function commandClient(call: Call): Commands {\n  return {\n",
    );
    for s in &sigs {
        let params: Vec<String> = s
            .args
            .iter()
            .map(|(n, t)| format!("{}: {}", camel(n), t.ts))
            .collect();
        let names: Vec<String> = s.args.iter().map(|(n, _)| camel(n)).collect();
        let call_args = if names.is_empty() {
            String::new()
        } else {
            format!(", {{ {} }}", names.join(", "))
        };
        let _ = writeln!(
            out,
            "    {}: ({}) => call<{}>('{}'{}),",
            camel(s.name),
            params.join(", "),
            ret_ts(s),
            s.name,
            call_args
        );
    }
    out.push_str("  };\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn camel_case_matches_tauris_argument_names() {
        assert_eq!(camel("session_id"), "sessionId");
        assert_eq!(camel("event_seq"), "eventSeq");
        assert_eq!(camel("sha256"), "sha256");
    }

    /// Fails when the committed client differs from table.rs.
    /// `UPDATE_BINDINGS=1 cargo test -p countersign-app commands::client_ts`
    /// rewrites it.
    #[test]
    fn the_typescript_client_is_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(CLIENT_PATH);
        let generated = client_ts();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{CLIENT_PATH} is out of date with src-tauri/src/commands/table.rs; run \
             `UPDATE_BINDINGS=1 cargo test -p countersign-app commands::client_ts` and commit it"
        );
    }
}
