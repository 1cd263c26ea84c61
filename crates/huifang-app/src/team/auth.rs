//! Authentication: argon2id passwords, hashed and verified on the blocking pool; login sessions
//! and API tokens, of which the database keeps only the SHA-256; the user of a bearer token or of
//! the command line's `--as`.

use std::sync::{Arc, LazyLock};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use huifang_store::Store;
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::{Actor, invalid, now_utc, stamp};
use crate::AppError;

pub use huifang_core::team::CONSOLE_IDLE_MINUTES;
pub use huifang_core::team::SESSION_HOURS;
use huifang_core::team::{LANGUAGES, LOCKOUT_FAILURES, LOCKOUT_MINUTES};

/// SHA-256 of a token, lowercase hex: what the database keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes from the OS-seeded thread CSPRNG, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An argon2id PHC hash of a password, computed off the async runtime's threads.
pub async fn hash_password(password: &str) -> Result<String, AppError> {
    if password.chars().count() < 8 {
        return Err(invalid("password", "must have at least 8 characters"));
    }
    let password = password.to_string();
    off_the_runtime(move || hash_now(&password)).await?
}

fn hash_now(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches `phc`. With no hash (no such user, or one without a password) it
/// checks against a hash of a random password instead, so that the answer takes as long whether
/// or not the user exists, and is false.
async fn verify_password(password: &str, phc: Option<String>) -> Result<bool, AppError> {
    let password = password.to_string();
    off_the_runtime(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| UNKNOWN_USER_HASH.clone());
        let matches = PasswordHash::new(&phc).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        known && matches
    })
    .await
}

/// The hash an unknown user's login is checked against (of a random password nobody knows).
static UNKNOWN_USER_HASH: LazyLock<String> =
    LazyLock::new(|| hash_now(&new_token()).unwrap_or_default());

/// How many password hashes run at once: one per core. argon2 is slow on purpose (tens of
/// milliseconds and 19 MiB each); run on the async runtime's threads, a burst of logins would
/// stall every other request, and unbounded on the blocking pool it would take every core.
static HASHING: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    Arc::new(Semaphore::new(
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
    ))
});

/// Runs CPU-heavy work (password hashing) on the blocking pool, at most [`HASHING`] at once.
/// The permit moves into the blocking task and is released when the work ends, even when the
/// request that asked for it is dropped meanwhile.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let permit = Arc::clone(&HASHING)
        .acquire_owned()
        .await
        .map_err(|e| AppError::Invalid(format!("password hashing is closed: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let done = work();
        drop(permit);
        done
    })
    .await
    .map_err(|e| AppError::Invalid(format!("password hashing failed: {e}")))
}

/// The name a sign-in's failures are counted under: trimmed, lowercase, at most 64 characters
/// (a longer one cannot be a user's).
fn failure_key(username: &str) -> String {
    username.trim().to_lowercase().chars().take(64).collect()
}

/// Logs in with a password; returns a new session token (shown once) and the user. After
/// [`LOCKOUT_FAILURES`] failed sign-ins of a username within [`LOCKOUT_MINUTES`], its sign-ins
/// are refused ([`AppError::Locked`]) until the window has passed, whether or not the user
/// exists; a successful sign-in forgets the failures.
pub async fn login(
    store: &Store,
    username: &str,
    password: &str,
) -> Result<(String, Actor), AppError> {
    sign_in(store, username, password, None).await
}

/// Signs in to the console: as [`login`], but the session also ends after `idle` without use
/// (by default [`CONSOLE_IDLE_MINUTES`]).
pub async fn console_login(
    store: &Store,
    username: &str,
    password: &str,
    idle: chrono::Duration,
) -> Result<(String, Actor), AppError> {
    sign_in(store, username, password, Some(idle)).await
}

async fn sign_in(
    store: &Store,
    username: &str,
    password: &str,
    idle: Option<chrono::Duration>,
) -> Result<(String, Actor), AppError> {
    let now = now_utc();
    let key = failure_key(username);
    let window_start = stamp(now - chrono::Duration::minutes(LOCKOUT_MINUTES));
    let mut tx = store.begin().await?;
    let failures = tx.login_failures_since(&key, &window_start).await?;
    let user = tx.user_by_username(username).await?;
    tx.rollback().await?;
    if failures >= LOCKOUT_FAILURES {
        return Err(AppError::Locked(format!(
            "{failures} failed sign-ins of this username in the last {LOCKOUT_MINUTES} minutes: try again later"
        )));
    }
    // the password is checked outside any transaction, off the async threads: argon2 is slow
    // on purpose; an unknown or disabled user is checked too, so every refusal takes as long
    let hash = user.as_ref().and_then(|u| u.user.password_hash.clone());
    let matches = verify_password(password, hash).await?;
    let ok = matches && user.as_ref().is_some_and(|u| u.active);
    let mut tx = store.begin().await?;
    let Some(user) = user.filter(|_| ok) else {
        tx.purge_login_failures(&window_start).await?;
        tx.insert_login_failure(&key, &stamp(now)).await?;
        tx.commit().await?;
        return Err(AppError::Unauthenticated(
            "wrong username or password".into(),
        ));
    };
    let token = new_token();
    let expires = stamp(now + chrono::Duration::hours(SESSION_HOURS));
    tx.clear_login_failures(&key).await?;
    match idle {
        None => {
            tx.insert_session(&token_hash(&token), user.id, &expires)
                .await?;
        }
        Some(idle) => {
            let idle = stamp(now + idle);
            tx.insert_console_session(&token_hash(&token), user.id, &expires, &idle)
                .await?;
        }
    }
    tx.commit().await?;
    Ok((token, Actor::from_user(user)?))
}

/// Ends the session of `token` (a sign-out); false when it was not a session (an API token is
/// revoked by an admin, not signed out).
pub async fn logout(store: &Store, token: &str) -> Result<bool, AppError> {
    let mut tx = store.begin().await?;
    let ended = tx.delete_session(&token_hash(token.trim())).await?;
    tx.delete_expired_sessions(&stamp(now_utc())).await?;
    tx.commit().await?;
    Ok(ended)
}

/// The user of a bearer token: an API token or an unexpired session token.
pub async fn authenticate(store: &Store, token: &str) -> Result<Actor, AppError> {
    let hash = token_hash(token.trim());
    let mut tx = store.begin().await?;
    let now = stamp(now_utc());
    let user = match tx.user_by_api_token(&hash, &now).await? {
        Some(u) => Some(u),
        None => tx.user_by_session(&hash, &now).await?,
    };
    tx.rollback().await?;
    let user = user.ok_or_else(|| {
        AppError::Unauthenticated("the token is unknown, revoked or expired".into())
    })?;
    Actor::from_user(user)
}

/// The user of a console session and their language; the session's idle deadline is pushed
/// `idle` forward.
pub async fn console_authenticate(
    store: &Store,
    token: &str,
    idle: chrono::Duration,
) -> Result<(Actor, String), AppError> {
    let hash = token_hash(token.trim());
    let now = now_utc();
    let mut tx = store.begin().await?;
    // the write lock first: a read that then writes would be refused at once on SQLite if
    // another connection committed in between
    tx.lock_for_write().await?;
    let user = tx.user_by_session(&hash, &stamp(now)).await?;
    let Some(user) = user else {
        tx.rollback().await?;
        return Err(AppError::Unauthenticated(
            "the session has ended: sign in again".into(),
        ));
    };
    tx.extend_session(&hash, &stamp(now + idle)).await?;
    let lang = tx.user_lang(user.id).await?;
    tx.commit().await?;
    Ok((Actor::from_user(user)?, lang))
}

/// Remembers the language a user reads the console in: `zh` or `en`.
pub async fn set_language(store: &Store, actor: &Actor, lang: &str) -> Result<(), AppError> {
    if !LANGUAGES.contains(&lang) {
        return Err(invalid("lang", "must be zh or en"));
    }
    let mut tx = store.begin().await?;
    tx.set_user_lang(actor.id(), lang).await?;
    tx.commit().await?;
    Ok(())
}

/// The user named on the command line (`--as`): whoever holds the database acts as them.
pub async fn actor(store: &Store, username: &str) -> Result<Actor, AppError> {
    let mut tx = store.begin().await?;
    let user = tx.user_by_username(username).await?;
    tx.rollback().await?;
    let user = user
        .filter(|u| u.active)
        .ok_or_else(|| AppError::NotFound {
            what: "active user",
            id: username.to_string(),
        })?;
    Actor::from_user(user)
}
