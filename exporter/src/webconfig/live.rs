//! The web configuration in force while the server runs: re-read on
//! SIGHUP and when a file it was built from changes, the rate limit, and
//! basic-auth checks with a cache of verified credentials.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use hyper::header::HeaderValue;
use std::time::Duration;


use super::files::{restamp, Stamps};
use super::schema::{RateLimit, WebConfig};

/// How often, at most, [`Live::check_for_changes`] looks at the files.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Verified credentials kept at most; the cache is emptied when full.
const CACHE_CAPACITY: usize = 1024;

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// The files had not changed since the last look.
    Unchanged,
    /// A new configuration is in force.
    Reloaded,
    /// The new files were refused; the previous configuration stays.
    Kept,
}

#[derive(Default)]
pub(super) struct Watch {
    pub(super) last_check: Option<Instant>,
    /// Stamps of files already refused, so a broken file is reported once.
    refused: Option<Stamps>,
}

pub(super) struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub(super) fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            limit,
            tokens: f64::from(limit.burst),
            last: now,
        }
    }

    pub(super) fn allow(&mut self, now: Instant) -> bool {
        let earned = now.saturating_duration_since(self.last).as_secs_f64()
            / self.limit.interval.as_secs_f64();
        self.tokens = (self.tokens + earned).min(f64::from(self.limit.burst));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The web configuration in force while the server runs, with what it
/// needs between requests: the cache of verified credentials and the rate
/// limiter.
pub struct Live {
    path: PathBuf,
    current: RwLock<Arc<WebConfig>>,
    pub(super) watch: Mutex<Watch>,
    /// HMAC-SHA256 of (user, hash, password), keyed with a random key made
    /// at start: the cache holds no password, nor anything a password could
    /// be guessed from faster than from its bcrypt hash without the key.
    /// `None` when no random key could be made; then nothing is cached.
    cache_key: Option<ring::hmac::Key>,
    pub(super) verified: Mutex<HashSet<[u8; 32]>>,
    /// One bcrypt computation at a time: they are slow on purpose, and run
    /// on the small blocking pool the collectors also use.
    bcrypt_gate: tokio::sync::Semaphore,
    bucket: Mutex<Option<Bucket>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Live {
    /// The configuration `config`, read from `path`, in force.
    pub fn new(path: &Path, config: WebConfig) -> Arc<Self> {
        let rng = ring::rand::SystemRandom::new();
        let bucket = config.rate_limit.map(|l| Bucket::new(l, Instant::now()));
        Arc::new(Self {
            path: path.to_owned(),
            current: RwLock::new(Arc::new(config)),
            watch: Mutex::new(Watch {
                last_check: Some(Instant::now()),
                refused: None,
            }),
            cache_key: ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng).ok(),
            verified: Mutex::new(HashSet::new()),
            bcrypt_gate: tokio::sync::Semaphore::new(1),
            bucket: Mutex::new(bucket),
        })
    }

    /// The file it is read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration in force.
    pub fn current(&self) -> Arc<WebConfig> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the file now (SIGHUP). A broken file keeps the previous
    /// configuration in force; either way the outcome is logged.
    pub fn reload(&self, reason: &str) -> Reload {
        match WebConfig::load(&self.path) {
            Ok(config) => {
                lock(&self.watch).refused = None;
                self.install(config, reason);
                Reload::Reloaded
            }
            Err(e) => {
                lock(&self.watch).refused = Some(restamp(&self.current().stamps));
                tracing::warn!(file = %self.path.display(), reason, err = %e, "web configuration not reloaded: keeping the previous one");
                Reload::Kept
            }
        }
    }

    /// Re-reads the file when it or a file it names has changed since it
    /// was read, looking at most once per [`CHECK_INTERVAL`].
    pub fn check_for_changes(&self) -> Reload {
        let now = Instant::now();
        {
            let mut watch = lock(&self.watch);
            if watch
                .last_check
                .is_some_and(|t| now.saturating_duration_since(t) < CHECK_INTERVAL)
            {
                return Reload::Unchanged;
            }
            watch.last_check = Some(now);
        }
        let stamps = self.current().stamps.clone();
        let fresh = restamp(&stamps);
        if fresh == stamps || lock(&self.watch).refused.as_ref() == Some(&fresh) {
            return Reload::Unchanged;
        }
        match WebConfig::load(&self.path) {
            Ok(config) => {
                lock(&self.watch).refused = None;
                self.install(config, "file changed");
                Reload::Reloaded
            }
            Err(e) => {
                lock(&self.watch).refused = Some(fresh);
                tracing::warn!(file = %self.path.display(), err = %e, "web configuration changed but is not valid: keeping the previous one");
                Reload::Kept
            }
        }
    }

    fn install(&self, config: WebConfig, reason: &str) {
        tracing::info!(
            file = %self.path.display(),
            reason,
            tls = config.tls.is_some(),
            basic_auth_users = config.users.len(),
            "web configuration reloaded"
        );
        {
            let mut bucket = lock(&self.bucket);
            let same = bucket.as_ref().map(|b| b.limit) == config.rate_limit;
            if !same {
                *bucket = config.rate_limit.map(|l| Bucket::new(l, Instant::now()));
            }
        }
        lock(&self.verified).clear();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
    }

    /// Takes one token from the rate limiter; false when the request must
    /// be refused with 429.
    pub fn allow_request(&self) -> bool {
        match lock(&self.bucket).as_mut() {
            Some(bucket) => bucket.allow(Instant::now()),
            None => true,
        }
    }

    /// Whether a request with this `Authorization` header may pass under
    /// `config`: always when it has no users; otherwise only with the
    /// right user and password.
    pub async fn authorize(&self, config: &WebConfig, header: Option<&HeaderValue>) -> bool {
        if config.users.is_empty() {
            return true;
        }
        let Some((user, password)) = header.and_then(parse_basic_auth) else {
            return false;
        };
        let known = config.users.get(&user);
        let hash = known.unwrap_or(&config.dummy_hash).clone();
        let key = self
            .cache_key
            .as_ref()
            .and_then(|k| cache_key(k, &user, &hash, &password));
        let cached = |key: &Option<[u8; 32]>| {
            key.as_ref()
                .is_some_and(|k| lock(&self.verified).contains(k))
        };
        if known.is_some() && cached(&key) {
            return true;
        }
        let Ok(_permit) = self.bcrypt_gate.acquire().await else {
            return false;
        };
        // Verified by another request while this one waited?
        if known.is_some() && cached(&key) {
            return true;
        }
        let matches =
            tokio::task::spawn_blocking(move || bcrypt::verify(&password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let ok = matches && known.is_some();
        if let (true, Some(key)) = (ok, key) {
            let mut verified = lock(&self.verified);
            if verified.len() >= CACHE_CAPACITY {
                verified.clear();
            }
            verified.insert(key);
        }
        ok
    }
}

/// The cache key of a (user, hash, password): each part length-prefixed,
/// so no two different triples give the same input.
fn cache_key(key: &ring::hmac::Key, user: &str, hash: &str, password: &[u8]) -> Option<[u8; 32]> {
    let mut ctx = ring::hmac::Context::with_key(key);
    for part in [user.as_bytes(), hash.as_bytes(), password] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    ctx.sign().as_ref().try_into().ok()
}

/// The user and password of a `Basic` `Authorization` header; `None` when
/// it is another scheme, not base64, has no colon or a user that is not
/// UTF-8.
pub fn parse_basic_auth(header: &HeaderValue) -> Option<(String, Vec<u8>)> {
    use base64::Engine as _;
    let text = header.to_str().ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}
