//! argon2id password hashing (m=19456 KiB, t=2, p=1), always on the blocking pool.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use secrecy::{ExposeSecret, SecretString};

use crate::error::AppError;

/// Verified against when the email is unknown, so an unknown email costs the same time as a
/// wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking(&SecretString::from("gatehouse-dummy-password".to_string())).unwrap_or_default()
});

/// Hashes on the calling thread: for the command line and test fixtures. Request handlers use
/// [`hash`], which runs on the blocking pool.
pub fn hash_blocking(password: &SecretString) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.expose_secret().as_bytes())?
        .to_string())
}

fn verify_blocking(hash: &str, password: &SecretString) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// At most one argon2 computation per core at a time: each takes 19 MiB and a core for tens of
/// milliseconds, so a burst of sign-ins queues here instead of taking the process's memory and
/// every core from the pages being served.
static ARGON2_SLOTS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio::sync::Semaphore::new(cores)
});

async fn argon2_slot() -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    ARGON2_SLOTS
        .acquire()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2 slots closed: {e}")))
}

pub async fn hash(password: SecretString) -> Result<String, AppError> {
    let _slot = argon2_slot().await?;
    actix_web::web::block(move || hash_blocking(&password))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// Checks a password against a stored hash, or against the dummy hash when there is none.
pub async fn verify(stored: Option<String>, password: SecretString) -> Result<bool, AppError> {
    let _slot = argon2_slot().await?;
    actix_web::web::block(move || match stored {
        Some(hash) => verify_blocking(&hash, &password),
        None => {
            verify_blocking(&DUMMY_HASH, &password);
            false
        }
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))
}

/// Computes the dummy hash ahead of the first sign-in.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}
