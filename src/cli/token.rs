//! `bearmon token create|list|revoke`: API tokens in `bearmon_tokens`. A token is printed
//! once, at creation; the database keeps only its SHA-256.

use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::db::{self, Db};
use crate::store::tokens;
use crate::util::rfc3339;
use crate::web::auth::{hash, new_token};

/// The tokens table is created by `bearmon migrate`; running it here too means a token can
/// be made on a database no node has started on yet.
async fn open(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url).await?;
    db::migrate(&db).await?;
    Ok(db)
}

pub async fn create(url: &str, name: &str, scope: &str) -> anyhow::Result<ExitCode> {
    if name.is_empty() || name.len() > 128 {
        bail!("a token name is 1 to 128 characters");
    }
    let db = open(url).await?;
    if tokens::list(&db).await?.iter().any(|t| t.name == name) {
        bail!("a token named {name:?} exists already (bearmon token list); pick another name");
    }
    let token = new_token();
    tokens::create(&db, name, scope, &hash(&token)).await.context("storing the token")?;
    eprintln!("token {name:?} (scope {scope}) created; it is shown this once, keep it now:");
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

pub async fn list(url: &str) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    let when = |ms: i64| if ms == 0 { "-".to_string() } else { rfc3339(ms).unwrap_or_default() };
    println!("{:<24} {:<6} {:<22} {:<22} REVOKED", "NAME", "SCOPE", "CREATED", "LAST USED");
    for t in tokens::list(&db).await? {
        println!(
            "{:<24} {:<6} {:<22} {:<22} {}",
            t.name,
            t.scope,
            when(t.created_ms),
            when(t.last_used_ms),
            when(t.revoked_ms)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(url: &str, name: &str) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    if tokens::revoke(&db, name).await? {
        println!("token {name:?} revoked; nodes refuse it within 10 seconds");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no valid token named {name:?} (bearmon token list)");
        Ok(ExitCode::from(1))
    }
}
