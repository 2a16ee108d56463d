//! Counters shared by every instance through Redis, as slot reservations.
//!
//! Each account and resource type is a hash of instance id → slots that
//! instance has *reserved*, and a second hash of instance id → requests it
//! has in flight (published lazily, for the read API). The sum of live
//! reservations never exceeds the threshold, and an instance admits a request
//! only into a slot it has reserved, so the requests in flight across
//! instances never exceed it either.
//!
//! An instance admits locally, with no round trip, while it has reserved
//! slots to spare. When it has none, one Lua script ([`Shared::reserve`])
//! checks the credential's request rate if one is configured (GCRA: a
//! theoretical arrival time per credential), sums the reservations of
//! instances whose lease key still exists (dropping the others, so a crashed
//! instance's slots stop counting once its lease expires), and grants
//! `clamp(⌊headroom / (2 × live instances)⌋, 1, MAX_GRANT)` slots, or
//! refuses when there is no headroom. Grants shrink to one slot as the
//! threshold nears, where every admission is one round trip as before.
//!
//! Spare slots come back without any request waiting for Redis: a flusher
//! owned by the limiter sends them ([`Shared::sync`]) in a batch a moment
//! later, together with the in-flight counts that changed. A task renews the
//! lease and, where a Redis error left this instance's fields uncertain,
//! rewrites them from the local counts once nothing of that counter is on its
//! way, so a lost update heals within one period.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

/// How long an instance's counts survive it, unless configured.
pub const LEASE: Duration = Duration::from_secs(15);

/// The most slots one grant reserves: how much of the threshold one instance
/// can hold for requests it has not received yet.
pub const MAX_GRANT: u32 = 16;

const PREFIX: &str = "switchboard:limits:";

/// KEYS: reservations hash, in-flight hash, high-water mark, reservation
/// high-water mark, rate key.
/// ARGV: instance, threshold, lease prefix, rate interval µs (0: no rate),
/// rate burst tolerance µs, whether a grant is wanted (0/1), this instance's
/// requests in flight counting this one, the largest grant.
/// Answers {1, granted, others} with a grant, {3, 0, others} when the rate
/// allowed and no grant was wanted, {0, reserved, others} over the threshold,
/// {2, µs to wait, 0} over the rate; `others` is what the other live
/// instances have in flight, as they last published it.
const RESERVE: &str = r"
local interval = tonumber(ARGV[4])
if interval > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = tonumber(redis.call('GET', KEYS[5]) or '0')
  if tat < now then
    tat = now
  end
  local wait = tat - tonumber(ARGV[5]) - now
  if wait > 0 then
    return {2, wait, 0}
  end
  local next = tat + interval
  redis.call('SET', KEYS[5], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000) + 1)
end
local total, live, mine, others = 0, 0, 0, 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local reserved = tonumber(fields[i + 1])
  if redis.call('EXISTS', ARGV[3] .. fields[i]) == 1 then
    total = total + reserved
    live = live + 1
    if fields[i] == ARGV[1] then
      mine = reserved
    else
      local busy = tonumber(redis.call('HGET', KEYS[2], fields[i]) or '0')
      others = others + math.min(busy, reserved)
    end
  else
    redis.call('HDEL', KEYS[1], fields[i])
    redis.call('HDEL', KEYS[2], fields[i])
  end
end
if ARGV[6] == '0' then
  return {3, 0, others}
end
local threshold = tonumber(ARGV[2])
if total >= threshold then
  return {0, total, others}
end
if mine == 0 then
  live = live + 1
end
local grant = math.floor((threshold - total) / (2 * live))
grant = math.max(1, math.min(grant, tonumber(ARGV[8])))
redis.call('HINCRBY', KEYS[1], ARGV[1], grant)
local busy = others + math.min(tonumber(ARGV[7]), mine + grant)
if busy > tonumber(redis.call('GET', KEYS[3]) or '0') then
  redis.call('SET', KEYS[3], busy)
end
if total + grant > tonumber(redis.call('GET', KEYS[4]) or '0') then
  redis.call('SET', KEYS[4], total + grant)
end
return {1, grant, others}
";

/// KEYS: per counter its reservations hash, in-flight hash and high-water
/// mark. ARGV: instance, lease prefix, then per counter the slots given back
/// and the requests in flight now. Answers, per counter, what the other live
/// instances have in flight.
const SYNC: &str = r"
local seen = {}
for c = 0, #KEYS / 3 - 1 do
  local counter, busy, max = KEYS[3 * c + 1], KEYS[3 * c + 2], KEYS[3 * c + 3]
  local back, now = tonumber(ARGV[2 * c + 3]), tonumber(ARGV[2 * c + 4])
  if back > 0 then
    if redis.call('HINCRBY', counter, ARGV[1], -back) <= 0 then
      redis.call('HDEL', counter, ARGV[1])
    end
  end
  if now > 0 then
    redis.call('HSET', busy, ARGV[1], now)
  else
    redis.call('HDEL', busy, ARGV[1])
  end
  local others = 0
  local fields = redis.call('HGETALL', busy)
  for i = 1, #fields, 2 do
    if redis.call('EXISTS', ARGV[2] .. fields[i]) == 1 then
      local reserved = tonumber(redis.call('HGET', counter, fields[i]) or '0')
      local n = math.min(tonumber(fields[i + 1]), reserved)
      if fields[i] ~= ARGV[1] then
        others = others + n
      end
    else
      redis.call('HDEL', busy, fields[i])
    end
  end
  local mine = math.min(now, tonumber(redis.call('HGET', counter, ARGV[1]) or '0'))
  if others + mine > tonumber(redis.call('GET', max) or '0') then
    redis.call('SET', max, others + mine)
  end
  seen[c + 1] = others
end
return seen
";

/// KEYS: reservations hash, in-flight hash, high-water mark, reservation
/// high-water mark. ARGV: lease prefix, instance (left out of the count).
/// Answers {in flight elsewhere, high-water mark, reservation high-water mark}.
const USAGE: &str = r"
local others = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if fields[i] ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. fields[i]) == 1 then
    local busy = tonumber(redis.call('HGET', KEYS[2], fields[i]) or '0')
    others = others + math.min(busy, tonumber(fields[i + 1]))
  end
end
return {others, tonumber(redis.call('GET', KEYS[3]) or '0'), tonumber(redis.call('GET', KEYS[4]) or '0')}
";

/// A request rate as GCRA parameters: one request per `interval`, and up to
/// `burst` requests at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub interval: Duration,
    pub burst: u32,
}

impl Rate {
    /// `n` requests a minute, all of them at once if they come at once
    /// (the same quota as `governor::Quota::per_minute`).
    pub fn per_minute(n: std::num::NonZeroU32) -> Rate {
        Rate {
            interval: Duration::from_secs(60) / n.get(),
            burst: n.get(),
        }
    }
}

/// What Redis said of a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// This many more slots are reserved for this instance; the other
    /// instances have `others` requests in flight.
    Granted { slots: u32, others: u32 },
    /// The rate allowed the request and no slot was asked for.
    Allowed { others: u32 },
    /// Every slot of the threshold is reserved: how many are.
    Full { reserved: u32, others: u32 },
    /// Over the credential's request rate: how long until it may come again.
    RateLimited(Duration),
}

/// The state of one counter across instances, as [`Shared::usage`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedUsage {
    /// Requests in flight on the other live instances, as they last published them.
    pub others: u32,
    /// The most in flight at once, as sampled at each grant and each publication.
    pub max: u32,
    /// The most slots reserved at once across instances: a bound on the
    /// most ever in flight at once, never above the threshold.
    pub max_reserved: u32,
}

/// What this instance sends of one counter: (account, resource type, slots
/// given back, requests in flight now).
pub type Update = (String, String, u32, u32);

/// This instance's handle on the shared counters.
#[derive(Clone)]
pub struct Shared {
    conn: ConnectionManager,
    instance: String,
    lease: Duration,
    reserve: Script,
    sync: Script,
    usage: Script,
    asked: Arc<AtomicU64>,
}

fn counter_key(account_sid: &str, resource_type: &str) -> String {
    format!("{PREFIX}{account_sid}:{resource_type}")
}

fn in_flight_key(account_sid: &str, resource_type: &str) -> String {
    format!("{PREFIX}{account_sid}:{resource_type}:busy")
}

fn max_key(account_sid: &str, resource_type: &str) -> String {
    format!("{PREFIX}{account_sid}:{resource_type}:max")
}

fn max_reserved_key(account_sid: &str, resource_type: &str) -> String {
    format!("{PREFIX}{account_sid}:{resource_type}:max_reserved")
}

fn rate_key(credential: &str) -> String {
    format!("{PREFIX}rate:{credential}")
}

/// The prefix of lease keys; the instance id follows.
pub fn lease_prefix() -> String {
    format!("{PREFIX}lease:")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Shared {
    /// `instance` names this process's fields; its counts outlive it by `lease`.
    pub fn new(conn: ConnectionManager, instance: String, lease: Duration) -> Shared {
        Shared {
            conn,
            instance,
            lease,
            reserve: Script::new(RESERVE),
            sync: Script::new(SYNC),
            usage: Script::new(USAGE),
            asked: Arc::default(),
        }
    }

    /// How often the lease is renewed and the counts rewritten.
    pub fn refresh_period(&self) -> Duration {
        self.lease / 3
    }

    /// Checks the credential's `rate` if given, then, if `grant` is asked,
    /// reserves slots of `account_sid`'s counter for this instance unless
    /// `threshold` are reserved across live instances; all in one round trip.
    /// `in_flight` is this instance's count of the counter, this request
    /// included, for the high-water mark.
    pub async fn reserve(
        &self,
        account_sid: &str,
        resource_type: &str,
        threshold: u32,
        rate: Option<(&str, Rate)>,
        grant: bool,
        in_flight: u32,
    ) -> redis::RedisResult<Reservation> {
        let mut invocation = self.reserve.prepare_invoke();
        invocation
            .key(counter_key(account_sid, resource_type))
            .key(in_flight_key(account_sid, resource_type))
            .key(max_key(account_sid, resource_type))
            .key(max_reserved_key(account_sid, resource_type))
            .key(rate_key(rate.map_or("", |(credential, _)| credential)));
        let (interval, tolerance) = match rate {
            Some((_, rate)) => (
                micros(rate.interval).max(1),
                micros(rate.interval) * u64::from(rate.burst.saturating_sub(1)),
            ),
            None => (0, 0),
        };
        invocation
            .arg(&self.instance)
            .arg(threshold)
            .arg(lease_prefix())
            .arg(interval)
            .arg(tolerance)
            .arg(u8::from(grant))
            .arg(in_flight)
            .arg(MAX_GRANT);
        self.asked.fetch_add(1, Ordering::Relaxed);
        let (outcome, value, others): (u8, u64, u64) =
            invocation.invoke_async(&mut self.conn.clone()).await?;
        let others = count(others);
        Ok(match outcome {
            1 => Reservation::Granted {
                slots: count(value),
                others,
            },
            2 => Reservation::RateLimited(Duration::from_micros(value)),
            3 => Reservation::Allowed { others },
            _ => Reservation::Full {
                reserved: count(value),
                others,
            },
        })
    }

    /// Gives back spare slots of this instance and publishes its in-flight
    /// counts, for several counters in one round trip; answers, for each,
    /// the requests in flight on the other live instances.
    pub async fn sync(&self, updates: &[Update]) -> redis::RedisResult<Vec<u32>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.sync.prepare_invoke();
        invocation.arg(&self.instance).arg(lease_prefix());
        for (account_sid, resource_type, given_back, in_flight) in updates {
            invocation
                .key(counter_key(account_sid, resource_type))
                .key(in_flight_key(account_sid, resource_type))
                .key(max_key(account_sid, resource_type))
                .arg(*given_back)
                .arg(*in_flight);
        }
        let others: Vec<u64> = invocation.invoke_async(&mut self.conn.clone()).await?;
        Ok(others.into_iter().map(count).collect())
    }

    /// The other live instances' requests in flight and the high-water marks.
    pub async fn usage(
        &self,
        account_sid: &str,
        resource_type: &str,
    ) -> redis::RedisResult<SharedUsage> {
        let (others, max, max_reserved): (u64, u64, u64) = self
            .usage
            .key(counter_key(account_sid, resource_type))
            .key(in_flight_key(account_sid, resource_type))
            .key(max_key(account_sid, resource_type))
            .key(max_reserved_key(account_sid, resource_type))
            .arg(lease_prefix())
            .arg(&self.instance)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(SharedUsage {
            others: count(others),
            max: count(max),
            max_reserved: count(max_reserved),
        })
    }

    /// Renews this instance's lease and rewrites its fields in `local`
    /// (account, resource type, slots reserved, requests in flight).
    pub async fn refresh(&self, local: &[Update]) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(format!("{}{}", lease_prefix(), self.instance))
            .arg(1)
            .arg("PX")
            .arg(u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX))
            .ignore();
        for (account_sid, resource_type, reserved, in_flight) in local {
            for (key, n) in [
                (counter_key(account_sid, resource_type), reserved),
                (in_flight_key(account_sid, resource_type), in_flight),
            ] {
                if *n == 0 {
                    pipe.hdel(key, &self.instance).ignore();
                } else {
                    pipe.hset(key, &self.instance, *n).ignore();
                }
            }
        }
        pipe.query_async::<()>(&mut self.conn.clone()).await
    }

    /// Ends the lease at once: this instance's counts stop counting.
    pub async fn end_lease(&self) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(format!("{}{}", lease_prefix(), self.instance))
            .query_async::<()>(&mut conn)
            .await
    }

    /// Whether `instance` holds a live lease.
    pub async fn is_alive(&self, instance: &str) -> redis::RedisResult<bool> {
        let mut conn = self.conn.clone();
        redis::cmd("EXISTS")
            .arg(format!("{}{instance}", lease_prefix()))
            .query_async(&mut conn)
            .await
    }

    /// How many reservation round trips this instance has made: what tests
    /// and the benchmark count admissions through Redis by.
    pub fn reservations_asked(&self) -> u64 {
        self.asked.load(Ordering::Relaxed)
    }
}
