//! Operator commands: tokens, verify, backup, restore.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::Utc;
use domain::auth::Grant;
use store::Store;
use store::backup::{Reader, Writer};

pub(crate) async fn issue_token(
    store: &dyn Store,
    name: &str,
    grant: Grant,
    expires_days: Option<i64>,
) -> anyhow::Result<ExitCode> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        bail!("--name must be 1 to 100 characters");
    }
    let expires_at = match expires_days {
        None => None,
        Some(days) if (1..=3650).contains(&days) => Some(Utc::now() + chrono::Duration::days(days)),
        Some(_) => bail!("--expires-days must be 1 to 3650"),
    };
    let (token, _) = server::auth::issue_token(store, name, grant, None, expires_at)
        .await
        .context("storing the token")?;
    crate::say(format_args!("{token}"))?;
    Ok(ExitCode::SUCCESS)
}

/// `stockbook user add`: the password comes from the first line of stdin, so it never
/// appears in the process list or the shell history.
pub(crate) async fn add_user(
    store: &dyn Store,
    username: &str,
    grant: Grant,
) -> anyhow::Result<ExitCode> {
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    server::login::check_password("password", &password).map_err(|_| {
        anyhow::anyhow!(
            "the password must be {} to {} characters",
            server::login::MIN_PASSWORD,
            server::login::MAX_PASSWORD
        )
    })?;
    if let Some(customer) = &grant.customer {
        store
            .get_customer(customer)
            .await
            .with_context(|| format!("--customer {customer}"))?;
    }
    let password_hash = server::login::hash_password(password)
        .await
        .map_err(|e| anyhow::anyhow!("hashing the password: {e:?}"))?;
    let user = store
        .create_user(store::NewUser {
            username: username.to_owned(),
            password_hash,
            grant,
            now: Utc::now(),
        })
        .await
        .context("creating the user")?;
    crate::say(format_args!(
        "created user {} ({})",
        user.username, user.grant.role
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn list_users(store: &dyn Store) -> anyhow::Result<ExitCode> {
    let mut after: Option<String> = None;
    loop {
        let users = store
            .list_users(after.as_deref(), 500)
            .await
            .context("listing users")?;
        let Some(last) = users.last() else { break };
        after = Some(last.username.clone());
        for u in &users {
            let bound = u.grant.customer.clone().unwrap_or_else(|| {
                u.grant
                    .locations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            });
            let disabled = u
                .disabled_at
                .map_or_else(|| "-".to_owned(), |at| at.to_rfc3339());
            crate::say(format_args!(
                "{}\t{}\t{}\t{}",
                u.username, u.grant.role, bound, disabled
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn disable_user(store: &dyn Store, username: &str) -> anyhow::Result<ExitCode> {
    store
        .disable_user(username, Utc::now())
        .await
        .with_context(|| format!("disabling {username}"))?;
    crate::say(format_args!("disabled {username}; its tokens are revoked"))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn list_tokens(store: &dyn Store) -> anyhow::Result<ExitCode> {
    for t in store.list_tokens().await.context("listing tokens")? {
        let revoked = t
            .revoked_at
            .map_or_else(|| "-".to_owned(), |at| at.to_rfc3339());
        crate::say(format_args!(
            "{}\t{}\t{}\t{}\t{}",
            t.token_id,
            t.role,
            t.name,
            t.created_at.to_rfc3339(),
            revoked
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn revoke_token(store: &dyn Store, id: i64) -> anyhow::Result<ExitCode> {
    let t = store
        .revoke_token(id, Utc::now())
        .await
        .with_context(|| format!("revoking token {id}"))?;
    crate::say(format_args!(
        "token {} ({}) revoked at {}",
        t.token_id,
        t.name,
        t.revoked_at.map(|a| a.to_rfc3339()).unwrap_or_default()
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn verify(store: &dyn Store, json: bool) -> anyhow::Result<ExitCode> {
    let report = store.verify().await.context("verifying")?;
    if json {
        crate::say(format_args!("{}", serde_json::to_string_pretty(&report)?))?;
    } else {
        for v in &report.violations {
            crate::say(format_args!(
                "VIOLATION {}: location={} sku={}: {}",
                v.check,
                v.location.as_deref().unwrap_or("-"),
                v.sku.as_deref().unwrap_or("-"),
                v.detail
            ))?;
        }
        let verdict = if report.ok() { "OK" } else { "FAILED" };
        crate::say(format_args!(
            "verify {verdict}: {} levels, {} movements, {} violations",
            report.levels,
            report.movements,
            report.violations.len()
        ))?;
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) async fn backup(store: &dyn Store, out: &Path) -> anyhow::Result<ExitCode> {
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let file = crate::create_private(&partial)?;
    let mut writer = Writer::new(BufWriter::new(file), store.backend(), Utc::now())?;
    store
        .export(&mut |record| writer.write(&record))
        .await
        .context("reading the snapshot")?;
    let (records, file) = writer.finish()?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&partial, out)
        .with_context(|| format!("moving the backup to {}", out.display()))?;
    crate::say(format_args!(
        "backup of {} records written to {}",
        records,
        out.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn restore(store: &dyn Store, from: &Path) -> anyhow::Result<ExitCode> {
    let file = File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let (header, mut reader) =
        Reader::new(BufReader::new(file)).with_context(|| format!("reading {}", from.display()))?;
    let records = store.restore(&mut reader).await.context("restoring")?;
    crate::say(format_args!(
        "restored {records} records from a {} backup of {}",
        header.backend, header.created_at
    ))?;
    verify(store, false).await
}
