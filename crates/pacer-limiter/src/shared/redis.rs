//! The Redis store of a shared limit: one round trip per admission (the
//! `admit` operation of `limit.lua`, by SHA), and the fallback to a memory
//! limiter at `rate / shards` the moment the store fails or is slow.
//!
//! Keys are `pacer:{<namespace>}:<upstream>:<what>` (the braces keep one
//! upstream's keys in one Redis Cluster slot); every operation refreshes
//! their time to live, so they expire after the run.
//!
//! Losing the store: the call that failed, and every call after it, goes to
//! the memory limiter at once (a call waits `timeout` at most, 250 ms or
//! less when `max_wait` is shorter); a background task pings the store every
//! half second and, when it answers, admission goes back to it. Requests
//! already booked in the store start at their booked time. Each outage is
//! kept (when, how long) for the statistics.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, Script};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::advertised::Advertised;
use crate::backend::{Backend, BackendFallback, BackendStats, Outage};
use crate::clock::TokioClock;
use crate::error::ProxyError;
use crate::limiter::{Constraint, Limiter, QuotaOrigin, RateSnapshot};
use crate::quota::Quota;
use crate::rate_limit::UpstreamConfig;
use crate::url::redact_url;

/// The longest a call to the store may take before the request goes on
/// with the memory limiter.
const STORE_TIMEOUT: Duration = Duration::from_millis(250);
/// How long connecting at start may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a lost store is tried again.
const RECONNECT_EVERY: Duration = Duration::from_millis(500);
/// How long the keys outlive their last use: a run's state is gone soon
/// after it, and a pause or a learned quota outlives a short gap between
/// two runs of the same pipeline only by this much.
const KEY_TTL_SECS: u64 = 600;

/// What an admission holds until the response is done: the in-flight slot
/// of this pacer and, when the store admitted it, its lease there.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    _lease: Option<Lease>,
}

impl Slot {
    /// A slot of the memory limiter alone.
    pub(crate) fn memory(permit: OwnedSemaphorePermit) -> Self {
        Self {
            _permit: permit,
            _lease: None,
        }
    }
}

/// An in-flight lease in the store, given back when dropped; if this pacer
/// dies first, it expires on its own.
#[derive(Debug)]
pub(crate) struct Lease {
    id: String,
    store: Weak<Store>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let (Some(store), Ok(runtime)) =
            (self.store.upgrade(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let id = std::mem::take(&mut self.id);
        runtime.spawn(async move {
            if let Some(mut conn) = store.conn() {
                let mut call = store.call("release");
                call.arg(&id);
                let _ =
                    tokio::time::timeout(store.timeout, call.invoke_async::<i64>(&mut conn)).await;
            }
        });
    }
}

/// Permission to send one attempt, from the store or the fallback.
#[derive(Debug)]
pub(crate) struct Turn {
    /// When it started, on the proxy's clock (as [`crate::Admission`]).
    pub started_at: Duration,
    /// How long admission took.
    pub queued: Duration,
    /// When it started on the store's clock (microseconds); `None` when the
    /// memory fallback admitted it.
    shared_start: Option<i64>,
    /// When the store booked that start (microseconds, its clock): a
    /// refusal of a request booked before the rate came down says nothing
    /// of the lowered rate.
    shared_booked: Option<i64>,
    slot: Slot,
}

impl Turn {
    /// A turn the memory limiter gave.
    pub(crate) fn memory(admission: crate::Admission) -> Self {
        Self {
            started_at: admission.started_at,
            queued: admission.queued,
            shared_start: None,
            shared_booked: None,
            slot: Slot::memory(admission.into_permit()),
        }
    }

    /// The slot, to be released together with the response body.
    pub(crate) fn into_slot(self) -> Slot {
        self.slot
    }
}

/// The static part of the script's arguments.
#[derive(Debug)]
struct Params {
    amount: f64,
    window_us: u64,
    limit: u64,
    burst: u32,
    min_delay_us: u64,
    max_concurrent: u32,
    lease_us: u64,
    adaptive: bool,
    beta: f64,
    floor: f64,
    cooldown_us: u64,
    fast_slope: f64,
    slow_slope: f64,
}

#[derive(Debug, Default)]
struct Health {
    /// When the current outage began, if the store is gone.
    down_since: Option<Instant>,
    outages: Vec<Outage>,
}

/// Shared between the proxy's requests and the reconnecting task.
pub(crate) struct Store {
    upstream: String,
    url: String,
    namespace: String,
    shards: u32,
    client: Client,
    script: Script,
    keys: [String; 4],
    params: Params,
    timeout: Duration,
    conn: Mutex<Option<MultiplexedConnection>>,
    health: Mutex<Health>,
    reconnecting: AtomicBool,
    reconnects: AtomicU64,
    shard: String,
    seq: AtomicU64,
    shared_admissions: AtomicU64,
    fallback_admissions: AtomicU64,
    /// The store's rate as last seen, thousandths of a request per second.
    rate_milli: AtomicI64,
    quota: Mutex<Option<Quota>>,
    decreases: AtomicU64,
    pauses: AtomicU64,
    held: Mutex<[Duration; 5]>,
    /// This pacer's first and last start and how many, for its achieved rate.
    span: Mutex<(Option<Instant>, Option<Instant>, u64)>,
}

/// Never prints the URL's password (the client's own `Debug` holds it).
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("upstream", &self.upstream)
            .field("url", &redact_url(&self.url))
            .field("namespace", &redact_url(&self.namespace))
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Store {
    fn conn(&self) -> Option<MultiplexedConnection> {
        lock(&self.conn).clone()
    }

    /// An invocation of `op` with the arguments every operation takes.
    fn call(&self, op: &str) -> ::redis::ScriptInvocation<'_> {
        let mut call = self.script.prepare_invoke();
        for key in &self.keys {
            call.key(key);
        }
        call.arg(op)
            .arg(KEY_TTL_SECS)
            .arg(self.params.amount)
            .arg(self.params.window_us);
        call
    }

    /// The store failed (`reason`): every request from now on goes to
    /// memory until it answers again.
    fn lost(self: &Arc<Self>, reason: String) {
        *lock(&self.conn) = None;
        {
            let mut health = lock(&self.health);
            if health.down_since.is_none() {
                health.down_since = Some(Instant::now());
                let since = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                health.outages.push(Outage {
                    since_unix: since,
                    seconds: None,
                    reason: reason.clone(),
                });
                let message = format!(
                    "{}: the shared limiter at {} failed ({reason}); going on alone with a memory limiter at rate / {} until it is back",
                    self.upstream,
                    redact_url(&self.url),
                    self.shards
                );
                eprintln!("pacer: warning: {message}");
                tracing::warn!("{message}");
            }
        }
        if !self.reconnecting.swap(true, Ordering::SeqCst) {
            let weak = Arc::downgrade(self);
            tokio::spawn(reconnect(weak));
        }
    }

    async fn connect(&self) -> Result<MultiplexedConnection, String> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(CONNECT_TIMEOUT);
        let attempt = async {
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            // Loads the script now, so the first admission is one EVALSHA.
            self.script.prepare_invoke().load_async(&mut conn).await?;
            Ok::<_, ::redis::RedisError>(conn)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(e.to_string().replace(&self.url, &redact_url(&self.url))),
            Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
        }
    }

    fn note(&self, v: &[i64]) {
        if let Some(rate) = v.get(2) {
            self.rate_milli.store(*rate, Ordering::Relaxed);
        }
        if let (Some(amount), Some(window)) = (v.get(3), v.get(4)) {
            if *amount >= 0 && *window > 0 {
                *lock(&self.quota) = Some(Quota {
                    amount: *amount as f64 / 1000.0,
                    window: Duration::from_micros(*window as u64),
                });
            }
        }
        if let Some(decreases) = v.get(6) {
            self.decreases.store(*decreases as u64, Ordering::Relaxed);
        }
    }
}

/// Tries the store again every [`RECONNECT_EVERY`] until it answers, or the
/// proxy is gone.
async fn reconnect(store: Weak<Store>) {
    loop {
        tokio::time::sleep(RECONNECT_EVERY).await;
        let Some(store) = store.upgrade() else { return };
        if let Ok(conn) = store.connect().await {
            *lock(&store.conn) = Some(conn);
            let mut health = lock(&store.health);
            if let Some(since) = health.down_since.take() {
                let seconds = since.elapsed().as_secs_f64();
                if let Some(last) = health.outages.last_mut() {
                    last.seconds = Some(seconds);
                }
                let message = format!(
                    "{}: the shared limiter at {} is back after {seconds:.1} s; admitting through it again",
                    store.upstream,
                    redact_url(&store.url)
                );
                eprintln!("pacer: note: {message}");
                tracing::info!("{message}");
            }
            drop(health);
            store.reconnects.fetch_add(1, Ordering::Relaxed);
            store.reconnecting.store(false, Ordering::SeqCst);
            return;
        }
    }
}

/// One upstream's limit kept in Redis, with its memory fallback.
#[derive(Debug)]
pub(crate) struct SharedLimit {
    store: Arc<Store>,
    /// This pacer's own cap on requests in flight (the store caps them all).
    local: Arc<Semaphore>,
    /// The limiter used while the store is gone: `rate / shards`.
    fallback: Limiter<TokioClock>,
}

impl SharedLimit {
    /// Connects to the backend of `cfg`, or returns `None` for `memory`.
    /// A store that cannot be reached is an error unless the fallback is
    /// `memory`; then this pacer starts alone and says so.
    pub(crate) async fn start(cfg: &UpstreamConfig) -> Result<Option<Self>, ProxyError> {
        let Backend::Redis { url } = &cfg.limits.backend else {
            return Ok(None);
        };
        let fail = |reason: String| ProxyError::Backend {
            upstream: cfg.name.clone(),
            url: redact_url(url),
            reason,
        };
        // `rediss://` goes through rustls, which needs its provider chosen
        // when more than one is built in; the proxy's client uses ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::open(url.as_str()).map_err(|e| fail(e.to_string()))?;
        let shards = cfg.shards.max(1);
        let limiter = cfg.limiter_config();
        let quota = limiter.quota;
        let aimd = &limiter.aimd;
        let rate = quota.rate();
        let params = Params {
            amount: if rate.is_finite() { quota.amount } else { -1.0 },
            window_us: micros(quota.window).max(1),
            limit: quota.limit().unwrap_or(0),
            burst: limiter.burst,
            min_delay_us: micros(limiter.min_delay),
            max_concurrent: cfg.limits.max_concurrent,
            // A lease outlives the longest an attempt may wait for its
            // answer; a response still streaming after that is rare, and a
            // dead pacer's slots come back then.
            lease_us: micros(cfg.limits.upstream_timeout + Duration::from_secs(1)),
            adaptive: limiter.adaptive,
            beta: aimd.beta,
            floor: if rate.is_finite() {
                rate * aimd.floor_fraction
            } else {
                0.0
            },
            cooldown_us: micros(aimd.min_cooldown),
            fast_slope: aimd.fast_slope,
            slow_slope: aimd.slow_slope,
        };
        let namespace = if cfg.namespace.is_empty() {
            crate::url::strip_credentials(&cfg.url).0
        } else {
            cfg.namespace.clone()
        };
        let prefix = format!("pacer:{{{namespace}}}:{}", cfg.name);
        let keys = ["state", "starts", "leases", "refused"].map(|k| format!("{prefix}:{k}"));
        let shard = format!(
            "{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos()
        );
        let store = Arc::new(Store {
            upstream: cfg.name.clone(),
            url: url.clone(),
            namespace,
            shards,
            client,
            script: Script::new(include_str!("limit.lua")),
            keys,
            params,
            timeout: STORE_TIMEOUT.min(cfg.limits.max_wait),
            conn: Mutex::new(None),
            health: Mutex::new(Health::default()),
            reconnecting: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
            shard,
            seq: AtomicU64::new(0),
            shared_admissions: AtomicU64::new(0),
            fallback_admissions: AtomicU64::new(0),
            rate_milli: AtomicI64::new(if rate.is_finite() {
                (rate * 1000.0) as i64
            } else {
                -1
            }),
            quota: Mutex::new(None),
            decreases: AtomicU64::new(0),
            pauses: AtomicU64::new(0),
            held: Mutex::new([Duration::ZERO; 5]),
            span: Mutex::new((None, None, 0)),
        });
        let mut alone = limiter.clone();
        alone.quota.amount /= f64::from(shards);
        if alone.max_concurrent > 0 {
            alone.max_concurrent = alone.max_concurrent.div_ceil(shards as usize);
        }
        let local = match limiter.max_concurrent {
            0 => Semaphore::MAX_PERMITS,
            n => n.min(Semaphore::MAX_PERMITS),
        };
        let shared = SharedLimit {
            local: Arc::new(Semaphore::new(local)),
            fallback: Limiter::new(&alone, TokioClock::new()),
            store,
        };
        match shared.store.connect().await {
            Ok(conn) => *lock(&shared.store.conn) = Some(conn),
            Err(reason) => match cfg.limits.fallback {
                BackendFallback::Fail => return Err(fail(reason)),
                BackendFallback::Memory => shared.store.lost(format!(
                    "unreachable at start: {reason}; --limiter-fallback memory"
                )),
            },
        }
        Ok(Some(shared))
    }

    /// An in-flight slot here, then a start booked in the store (one round
    /// trip); the memory fallback when the store fails or is slow.
    pub(crate) async fn admit(&self) -> Turn {
        let clock_start = self.fallback.now();
        let arrived = Instant::now();
        if self.store.conn().is_some() {
            let permit = Arc::clone(&self.local)
                .acquire_owned()
                .await
                .expect("the in-flight semaphore is never closed");
            let slot_wait = arrived.elapsed();
            if !slot_wait.is_zero() {
                lock(&self.store.held)[Constraint::InFlight as usize] += slot_wait;
            }
            while let Some(mut conn) = self.store.conn() {
                let id = format!(
                    "{}:{}",
                    self.store.shard,
                    self.store.seq.fetch_add(1, Ordering::Relaxed)
                );
                let p = &self.store.params;
                let mut call = self.store.call("admit");
                call.arg(p.burst)
                    .arg(p.min_delay_us)
                    .arg(p.max_concurrent)
                    .arg(&id)
                    .arg(p.lease_us)
                    .arg(u8::from(p.adaptive))
                    .arg(p.fast_slope)
                    .arg(p.slow_slope)
                    .arg(p.limit);
                let answer = tokio::time::timeout(
                    self.store.timeout,
                    call.invoke_async::<Vec<i64>>(&mut conn),
                )
                .await;
                let v = match answer {
                    Ok(Ok(v)) if v.len() >= 2 => v,
                    Ok(Ok(v)) => {
                        self.store.lost(format!("unexpected answer {v:?}"));
                        break;
                    }
                    Ok(Err(e)) => {
                        self.store.lost(e.to_string());
                        break;
                    }
                    Err(_) => {
                        self.store.lost(format!(
                            "no answer within {} ms",
                            self.store.timeout.as_millis()
                        ));
                        break;
                    }
                };
                let wait = Duration::from_micros(v[1].max(0) as u64);
                if v[0] < 0 {
                    // Every pacer's in-flight cap is full: ask again soon.
                    lock(&self.store.held)[Constraint::InFlight as usize] += wait;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                let wait = Duration::from_micros(v[0] as u64);
                self.store.note(&v);
                let binding = match v[1] {
                    1 => Some(Constraint::Rate),
                    2 => Some(Constraint::Window),
                    3 => Some(Constraint::MinDelay),
                    4 => Some(Constraint::Pause),
                    _ => None,
                };
                if let (Some(binding), false) = (binding, wait.is_zero()) {
                    lock(&self.store.held)[binding as usize] += wait;
                }
                let due = Instant::now() + wait;
                // Not even a zero sleep: tokio's timer fires it on its next
                // tick, up to a millisecond later.
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                let late = due.elapsed();
                if late > Duration::from_millis(2) && p.limit > 0 {
                    // Told before the request goes, so the next booking
                    // counts it where the API will.
                    self.run("late", &[id.clone(), micros(late).to_string()])
                        .await;
                }
                self.store.shared_admissions.fetch_add(1, Ordering::Relaxed);
                self.started();
                return Turn {
                    started_at: self.fallback.now(),
                    queued: arrived.elapsed(),
                    shared_start: v.get(5).copied(),
                    shared_booked: v.get(5).map(|start| start - v[0]),
                    slot: Slot {
                        _permit: permit,
                        _lease: Some(Lease {
                            id,
                            store: Arc::downgrade(&self.store),
                        }),
                    },
                };
            }
        }
        let admission = self.fallback.admit().await;
        self.store
            .fallback_admissions
            .fetch_add(1, Ordering::Relaxed);
        self.started();
        Turn {
            started_at: admission.started_at,
            queued: self.fallback.now().saturating_sub(clock_start),
            shared_start: None,
            shared_booked: None,
            slot: Slot::memory(admission.into_permit()),
        }
    }

    fn started(&self) {
        let now = Instant::now();
        let mut span = lock(&self.store.span);
        span.0.get_or_insert(now);
        span.1 = Some(now);
        span.2 += 1;
    }

    /// Runs `op` with `args`; `None` (and the fallback from now on) when the
    /// store fails.
    async fn run(&self, op: &str, args: &[String]) -> Option<Vec<i64>> {
        let mut conn = self.store.conn()?;
        let mut call = self.store.call(op);
        for a in args {
            call.arg(a);
        }
        match tokio::time::timeout(self.store.timeout, call.invoke_async::<Vec<i64>>(&mut conn))
            .await
        {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                self.store.lost(e.to_string());
                None
            }
            Err(_) => {
                self.store.lost(format!(
                    "no answer within {} ms",
                    self.store.timeout.as_millis()
                ));
                None
            }
        }
    }

    /// A refusal's wait for every pacer (see [`Limiter::pause_for_all`]).
    pub(crate) async fn pause_for_all(&self, wait: Duration) -> bool {
        let rate = self.store.rate_milli.load(Ordering::Relaxed) as f64 / 1000.0;
        let interval = if rate > 0.0 {
            crate::gcra::interval_for(rate)
        } else {
            Duration::ZERO
        };
        // The fallback learns of it too, in case the store goes next.
        let alone = self.fallback.pause_for_all(wait);
        if self.store.conn().is_none() {
            return alone;
        }
        if wait <= interval.saturating_mul(2) {
            return false;
        }
        let paused = self.run("pause", &[micros(wait).to_string()]).await;
        if paused.as_ref().is_some_and(|v| v.first() == Some(&1)) {
            self.store.pauses.fetch_add(1, Ordering::Relaxed);
        }
        paused.is_some() || alone
    }

    /// A 429 for `turn`: lowers the shared rate (or learns the quota) in the
    /// store when the store admitted it, else in the fallback.
    pub(crate) async fn on_refused(
        &self,
        turn: &Turn,
        retry_after: Option<Duration>,
    ) -> Option<f64> {
        let Some(started) = turn.shared_start else {
            return self.fallback.on_refused(turn.started_at, retry_after);
        };
        let p = &self.store.params;
        let args = [
            started.to_string(),
            retry_after.map_or(-1, |d| micros(d) as i64).to_string(),
            p.beta.to_string(),
            p.floor.to_string(),
            p.cooldown_us.to_string(),
            u8::from(p.adaptive).to_string(),
            p.limit.to_string(),
            turn.shared_booked.unwrap_or(started).to_string(),
        ];
        let v = self.run("refused", &args).await?;
        let rate = *v.first()? as f64 / 1000.0;
        if v.get(1).copied().unwrap_or(0) == 0 {
            return None;
        }
        self.store.rate_milli.store(v[0], Ordering::Relaxed);
        self.store.decreases.fetch_add(1, Ordering::Relaxed);
        Some(rate)
    }

    /// An accepted attempt: the fallback climbs back (the store's rate
    /// climbs as admissions go, without a round trip per success).
    pub(crate) fn on_success(&self, turn: &Turn) {
        if turn.shared_start.is_none() {
            self.fallback.on_success();
        }
    }

    /// What a response advertised: `memory` decides, under its rules, what
    /// to adopt (it keeps the configured and advertised quotas); the store
    /// gets the adopted quota and any pause, for every pacer.
    pub(crate) async fn learn(
        &self,
        memory: &Limiter<TokioClock>,
        adv: &Advertised,
        turn: &Turn,
    ) -> Option<Quota> {
        let adopted = memory.learn(adv, turn.started_at);
        if turn.shared_start.is_none() {
            self.fallback.learn(adv, turn.started_at);
        }
        if let (Some(reset), Some(0)) = (adv.reset, adv.remaining) {
            if self
                .run("pause", &[micros(reset).to_string()])
                .await
                .is_some_and(|v| v.first() == Some(&1))
            {
                self.store.pauses.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(quota) = adopted {
            let args = [
                quota.amount.to_string(),
                micros(quota.window).max(1).to_string(),
            ];
            if let Some(v) = self.run("quota", &args).await {
                if let Some(rate) = v.first() {
                    self.store.rate_milli.store(*rate, Ordering::Relaxed);
                }
                *lock(&self.store.quota) = Some(quota);
            }
        }
        adopted
    }

    /// `rates` (the memory limiter's view) with the store's rate, quota and
    /// waits in their place.
    pub(crate) fn amend(&self, rates: &mut RateSnapshot) {
        let milli = self.store.rate_milli.load(Ordering::Relaxed);
        rates.current = if milli < 0 {
            f64::INFINITY
        } else {
            milli as f64 / 1000.0
        };
        if let Some(quota) = *lock(&self.store.quota) {
            if quota != rates.quota && quota.rate() < rates.configured {
                rates.origin = QuotaOrigin::LearnedFromRefusals;
            }
            rates.quota = quota;
        }
        rates.decreases = self.store.decreases.load(Ordering::Relaxed);
        let (first, last, starts) = *lock(&self.store.span);
        if let (Some(first), Some(last)) = (first, last) {
            if starts > 1 && last > first {
                rates.achieved = (starts - 1) as f64 / (last - first).as_secs_f64();
            }
        }
        rates.pauses += self.store.pauses.load(Ordering::Relaxed);
        let held = *lock(&self.store.held);
        let fallback = self.fallback.rates();
        for (c, secs) in rates.held.iter_mut() {
            *secs += held[*c as usize].as_secs_f64();
            if let Some((_, more)) = fallback.held.iter().find(|(f, _)| f == c) {
                *secs += more;
            }
        }
        rates.binding = rates
            .held
            .iter()
            .filter(|(_, secs)| *secs > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| *c);
    }

    /// The backend's statistics.
    pub(crate) fn stats(&self) -> BackendStats {
        // An outage still going has no length yet (`seconds` is `None`).
        let outages = lock(&self.store.health).outages.clone();
        BackendStats {
            url: redact_url(&self.store.url),
            namespace: self.store.namespace.clone(),
            shards: self.store.shards,
            shared_admissions: self.store.shared_admissions.load(Ordering::Relaxed),
            fallback_admissions: self.store.fallback_admissions.load(Ordering::Relaxed),
            outages,
            reconnects: self.store.reconnects.load(Ordering::Relaxed),
        }
    }
}
