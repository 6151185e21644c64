//! argon2id password hashing (m=19456 KiB, t=2, p=1), on a blocking pool of its own.

use std::sync::{Arc, LazyLock};

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
static ARGON2_MEMORY: Buffers = std::sync::Mutex::new(Vec::new());

type Buffers = std::sync::Mutex<Vec<Vec<Block>>>;

/// Runs `argon2` over `password` and `salt` into `out`, in a reused buffer when its memory
/// cost is ours (a hash made with other parameters gets a buffer of its own).
fn argon2_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    argon2_into_with(&ARGON2_MEMORY, argon2, password, salt, out)
}

/// [`argon2_into`] with the free buffers given.
fn argon2_into_with(
    buffers: &Buffers,
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let needed = argon2.params().block_count();
    let ours = needed == Params::default().block_count();
    let reused = if ours {
        buffers.lock().ok().and_then(|mut free| free.pop())
    } else {
        None
    };
    let mut blocks = reused.unwrap_or_else(|| vec![Block::default(); needed]);
    let result = argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..]);
    if ours && let Ok(mut free) = buffers.lock() {
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
/// A caller that goes away while it waits for a slot takes nothing from anyone.
static ARGON2_SLOTS: LazyLock<Arc<tokio::sync::Semaphore>> =
    LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(slots())));

fn slots() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    (cores / 2).max(1)
}

/// argon2's own blocking threads, one per slot: a computation never waits behind database work
/// in a worker's queue (each worker has its share of the statements run at once in blocking
/// threads, `startup::blocking_threads_per_worker`), and never takes one of them.
static ARGON2_POOL: LazyLock<Option<tokio::runtime::Runtime>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .thread_name("argon2")
        .max_blocking_threads(slots())
        .build()
        .inspect_err(|e| tracing::error!(error = %e, "no threads for argon2"))
        .ok()
});

/// Runs `work` on argon2's threads once a slot is free. The slot is held until the work ends,
/// even when the caller has gone meanwhile.
async fn on_argon2_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let internal = |e: &dyn std::fmt::Display| AppError::Internal(anyhow::anyhow!("argon2: {e}"));
    let slot = Arc::clone(&ARGON2_SLOTS)
        .acquire_owned()
        .await
        .map_err(|e| internal(&e))?;
    let pool = ARGON2_POOL
        .as_ref()
        .ok_or_else(|| internal(&"no threads"))?;
    pool.spawn_blocking(move || {
        let result = work();
        drop(slot);
        result
    })
    .await
    .map_err(|e| internal(&e))
}

pub async fn hash(password: SecretString) -> Result<String, AppError> {
    on_argon2_thread(move || hash_blocking(&password))
        .await?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// Checks a password against a stored hash, or against the dummy hash when there is none.
pub async fn verify(stored: Option<String>, password: SecretString) -> Result<bool, AppError> {
    on_argon2_thread(move || match stored {
        Some(hash) => verify_blocking(&hash, &password),
        None => {
            verify_blocking(&DUMMY_HASH, &password);
            false
        }
    })
    .await
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

    /// argon2 runs on threads of its own: with the caller's only blocking thread held, a hash
    /// and a check still finish.
    #[test]
    fn argon2_never_waits_for_the_callers_blocking_threads() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        runtime.block_on(async {
            let (release, held) = std::sync::mpsc::channel::<()>();
            let occupied = tokio::task::spawn_blocking(move || held.recv());
            let within = std::time::Duration::from_secs(30);
            let hashed = tokio::time::timeout(within, hash(secret("violet-harbor-quartz-1987")))
                .await
                .expect("hashed without the caller's blocking thread")
                .unwrap();
            let right = tokio::time::timeout(
                within,
                verify(Some(hashed.clone()), secret("violet-harbor-quartz-1987")),
            )
            .await
            .expect("checked without the caller's blocking thread")
            .unwrap();
            release.send(()).unwrap();
            occupied.await.unwrap().unwrap();
            assert!(hashed.starts_with("$argon2id$"), "{hashed}");
            assert!(right);
        });
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
        let buffers = Buffers::default();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        for _ in 0..8 {
            argon2_into_with(
                &buffers,
                &Argon2::default(),
                b"violet-harbor-quartz-1987",
                b"sixteen-byte-salt",
                &mut out,
            )
            .unwrap();
        }
        assert_eq!(buffers.lock().unwrap().len(), 1, "one buffer for 8 hashes");
    }
}
