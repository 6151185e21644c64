//! argon2id password hashing (m=19456 KiB, t=2, p=1), always on the blocking pool.

use std::sync::LazyLock;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::error::AppError;

/// Verified against when the email is unknown, so an unknown email costs the same time as a
/// wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking(&SecretString::from("gatehouse-dummy-password".to_string())).unwrap_or_default()
});

/// Argon2's working memory (19 MiB), reused from one hash to the next: at most one buffer per
/// slot of `ARGON2_SLOTS` is ever made. Allocated and freed per hash, as the library does by
/// default, every blocking thread's allocator arena kept its own 19 MiB after its first sign-in
/// (231 MiB resident after 20 parallel sign-ins).
static ARGON2_MEMORY: std::sync::Mutex<Vec<Vec<Block>>> = std::sync::Mutex::new(Vec::new());

/// Runs `argon2` over `password` and `salt` into `out`, in a reused buffer when its memory
/// cost is ours (a hash made with other parameters gets a buffer of its own).
fn argon2_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let needed = argon2.params().block_count();
    let ours = needed == Params::default().block_count();
    let reused = if ours {
        ARGON2_MEMORY.lock().ok().and_then(|mut free| free.pop())
    } else {
        None
    };
    let mut blocks = reused.unwrap_or_else(|| vec![Block::default(); needed]);
    let result = argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..]);
    if ours && let Ok(mut free) = ARGON2_MEMORY.lock() {
        free.push(blocks);
    }
    result
}

/// Hashes on the calling thread: for the command line and test fixtures. Request handlers use
/// [`hash`], which runs on the blocking pool. argon2id with the library's default parameters,
/// as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_blocking(password: &SecretString) -> Result<String, argon2::password_hash::Error> {
    let argon2 = Argon2::default();
    let salt = Salt::generate();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        &argon2,
        password.expose_secret().as_bytes(),
        &salt,
        &mut out,
    )?;
    Ok(PasswordHash {
        algorithm: Algorithm::default().ident(),
        version: Some(Version::default().into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(salt),
        hash: Some(Output::new(&out)?),
    }
    .to_string())
}

fn verify_blocking(hash: &str, password: &SecretString) -> bool {
    let check = || -> Result<bool, argon2::password_hash::Error> {
        let parsed = PasswordHash::new(hash)?;
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Ok(false);
        };
        let version = match parsed.version {
            Some(v) => Version::try_from(v)?,
            None => Version::default(),
        };
        let argon2 = Argon2::new(
            Algorithm::try_from(parsed.algorithm.as_str())?,
            version,
            Params::try_from(&parsed)?,
        );
        let mut out = vec![0u8; expected.len()];
        argon2_into(&argon2, password.expose_secret().as_bytes(), salt, &mut out)?;
        // `Output`'s comparison takes the same time wherever the outputs differ.
        Ok(Output::new(&out)? == *expected)
    };
    check().unwrap_or(false)
}

/// At most one argon2 computation per two cores at a time (one on a two-core machine): each
/// takes 19 MiB and a core for tens of milliseconds, so a burst of sign-ins queues here instead
/// of taking the process's memory and every core from the pages being served (with one per
/// core, 20 parallel sign-ins raised the member page's p99 2.4 times and memory to 78 MiB).
static ARGON2_SLOTS: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    tokio::sync::Semaphore::new((cores / 2).max(1))
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

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_blocking(&secret("violet-harbor-quartz-1987")).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_blocking(&hash, &secret("violet-harbor-quartz-1987")));
        assert!(!verify_blocking(
            &hash,
            &secret("violet-harbor-quartz-1988")
        ));
        assert!(!verify_blocking(
            "not a hash",
            &secret("violet-harbor-quartz-1987")
        ));
        let other = hash_blocking(&secret("violet-harbor-quartz-1987")).unwrap();
        assert_ne!(hash, other, "a new salt each time");
    }

    #[test]
    fn hashes_made_by_the_library_and_with_other_parameters_still_verify() {
        let library = Argon2::default()
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(verify_blocking(&library, &secret("correct horse")));
        assert!(!verify_blocking(&library, &secret("correct horsf")));
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse")
        .unwrap()
        .to_string();
        assert!(verify_blocking(&small, &secret("correct horse")));
        assert!(!verify_blocking(&small, &secret("wrong horse")));
    }

    #[test]
    fn the_working_memory_is_reused_not_multiplied() {
        for _ in 0..8 {
            hash_blocking(&secret("violet-harbor-quartz-1987")).unwrap();
        }
        let buffers = ARGON2_MEMORY.lock().unwrap().len();
        // Other tests in this process may hash at the same time: at most one buffer each.
        assert!((1..=3).contains(&buffers), "{buffers} buffers");
    }
}
