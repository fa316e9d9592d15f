//! `countersign keys backup` and `countersign restore --from-bucket`
//! (issue 14 item 3; the engine's `recovery.rs` holds the rules).

use anyhow::Context;
use countersign_engine::recovery::{
    load_key_backup, restore_from_bucket, RestoreOptions, RestoreSource,
};
use countersign_engine::{Engine, SystemClock};
use countersign_sync::fleet::Fleet;
use countersign_sync::SyncConfig;

use crate::args::{Cli, KeysCmd, RestoreArgs};
use crate::cmd_sync::{coded, runtime};
use crate::util::{print_json, read_secret};

pub fn keys(cli: &Cli, c: &KeysCmd) -> anyhow::Result<()> {
    match c {
        KeysCmd::Backup { dir, admin } => {
            let mut e = Engine::open(&cli.data_dir)
                .with_context(|| format!("opening {}", cli.data_dir.display()))?;
            let secret = read_secret(&admin.by)?;
            let pass = e.admin_sign_in(&admin.by, &secret, &admin.otp, "keys backup")?;
            let r = e.backup_keys(&pass, dir)?;
            if cli.json {
                return print_json(&r);
            }
            println!(
                "kiosk {}'s signing key and data key written to {} (dir 0700, files 0600: {})",
                r.kiosk_id,
                r.dir.display(),
                r.files.join(", ")
            );
            println!(
                "recorded as keys.backed_up (seq {}) by {}",
                r.recorded.seq, admin.by
            );
            println!("Keep them offline, not on the kiosk: move the directory to encrypted removable media");
            println!("(or a vault) held apart from the kiosk, under two people's control, then delete it here.");
            println!(
                "Whoever holds them can sign history as this kiosk and open its sealed samples."
            );
            println!("They are what `countersign restore --from-bucket --keys DIR` needs if this kiosk's disk dies.");
            Ok(())
        }
    }
}

pub fn restore(cli: &Cli, a: &RestoreArgs) -> anyhow::Result<()> {
    let cfg = SyncConfig::load_file(&a.config).map_err(coded)?;
    let sync_toml = std::fs::read_to_string(&a.config)
        .with_context(|| format!("reading {}", a.config.display()))?;
    // Which kiosk: the backup says (its manifest is checked again by the engine).
    let (manifest, _) = load_key_backup(&a.keys)?;
    let secret = read_secret(&a.admin)?;
    let fleet = Fleet::open(&cfg).map_err(coded)?;
    let copy = runtime()?
        .block_on(fleet.download(&manifest.kiosk_id))
        .map_err(coded)?;
    let src = RestoreSource {
        bucket: format!(
            "{} bucket {} prefix {:?}",
            cfg.endpoint_display(),
            cfg.bucket,
            cfg.prefix
        ),
        kiosks: copy.kiosks,
        public_key: copy.public_key,
        events: copy.events,
        checkpoints: copy.checkpoints,
        blobs: copy.blobs,
        synced: copy.synced,
    };
    let opts = RestoreOptions {
        admin: a.admin.clone(),
        admin_secret: secret,
        reason: a.reason.clone(),
        sync_toml: Some(sync_toml),
    };
    let r = restore_from_bucket(&cli.data_dir, &a.keys, src, &opts, Box::new(SystemClock))?;
    if cli.json {
        return print_json(&r);
    }
    println!(
        "restored kiosk {} into {}: {} events, {} checkpoints, {} blobs ({} purged), {} people",
        r.kiosk_id,
        r.data_dir.display(),
        r.restored.events,
        r.restored.checkpoints,
        r.restored.blobs,
        r.restored.purged_blobs,
        r.restored.people
    );
    println!(
        "verified: chain, signatures and checkpoints under the backup's key; bucket head seq {} hash {}; data key checked by {}",
        r.restored_head.seq, r.restored_head.hash_hex, r.data_key_checked_by
    );
    if r.lost_events > 0 {
        println!(
            "WARNING: the surviving local anchor was at seq {}: {} events signed here never reached the bucket and are lost (recorded in kiosk.restored)",
            r.previous_anchor.as_ref().map_or(0, |a| a.seq),
            r.lost_events
        );
    }
    println!(
        "recorded as kiosk.restored; local anchor re-seeded at seq {} hash {}",
        r.head.seq, r.head.hash_hex
    );
    if !r.credentials_cleared.is_empty() {
        println!(
            "credentials cleared (the bucket holds only their digest): {}; {} re-issues them with `countersign people credentials`",
            r.credentials_cleared.join(", "),
            a.admin
        );
    }
    println!(
        "administrator {} has new credentials; add this TOTP secret to their authenticator app now (it is not shown again):",
        r.admin.person
    );
    println!("  secret: {}", r.admin.totp_secret_base32);
    println!("  uri:    {}", r.admin.otpauth_uri);
    println!(
        "sync config copied to {}/sync.toml; `countersign sync run` carries on from here",
        r.data_dir.display()
    );
    Ok(())
}
