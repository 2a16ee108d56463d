//! Counters shared by every instance through Redis.
//!
//! Each account and resource type is a hash of instance id → requests that
//! instance has in flight. Admission is one Lua script, one round trip: it
//! first applies this instance's releases not yet sent, then checks the
//! credential's request rate (GCRA: a theoretical arrival time per
//! credential), then sums the fields of instances whose lease key still
//! exists (dropping the others, so a crashed instance's requests stop
//! counting once its lease expires), compares with the threshold, and
//! increments this instance's field.
//!
//! Releases are never awaited by a request: they ride on the instance's next
//! admission, or a flusher sends them in a batch a moment later. A task owned
//! by the limiter renews the lease and, where a Redis error left this
//! instance's field uncertain, rewrites it from the local count once nothing
//! of that counter is on its way, so a lost release heals within one period.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

/// How long an instance's counts survive it, unless configured.
pub const LEASE: Duration = Duration::from_secs(15);

const PREFIX: &str = "switchboard:limits:";

/// KEYS: counter hash, high-water mark, rate key, then counters to release.
/// ARGV: instance, threshold, lease prefix, rate interval µs (0: no rate),
/// rate burst tolerance µs, then how many to release from each counter.
/// Answers {1, count} admitted, {0, count} over the threshold, {2, µs to
/// wait} over the rate.
const ADMIT: &str = r"
for i = 4, #KEYS do
  local left = redis.call('HINCRBY', KEYS[i], ARGV[1], -tonumber(ARGV[i + 2]))
  if left <= 0 then
    redis.call('HDEL', KEYS[i], ARGV[1])
  end
end
local interval = tonumber(ARGV[4])
if interval > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = tonumber(redis.call('GET', KEYS[3]) or '0')
  if tat < now then
    tat = now
  end
  local wait = tat - tonumber(ARGV[5]) - now
  if wait > 0 then
    return {2, wait}
  end
  local next = tat + interval
  redis.call('SET', KEYS[3], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000) + 1)
end
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[3] .. fields[i]) == 1 then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if total >= tonumber(ARGV[2]) then
  return {0, total}
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local max = tonumber(redis.call('GET', KEYS[2]) or '0')
if total + 1 > max then
  redis.call('SET', KEYS[2], total + 1)
end
return {1, total + 1}
";

/// KEYS: counters. ARGV: instance, then how many to release from each.
const RELEASE: &str = r"
for i = 1, #KEYS do
  local left = redis.call('HINCRBY', KEYS[i], ARGV[1], -tonumber(ARGV[i + 1]))
  if left <= 0 then
    redis.call('HDEL', KEYS[i], ARGV[1])
  end
end
return #KEYS
";

/// KEYS: counter hash, high-water mark. ARGV: lease prefix. Answers {count, max}.
const USAGE: &str = r"
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[1] .. fields[i]) == 1 then
    total = total + tonumber(fields[i + 1])
  end
end
return {total, tonumber(redis.call('GET', KEYS[2]) or '0')}
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

/// What Redis said of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Admitted: the account's count across instances, this one included.
    Admitted(u32),
    /// Over the threshold: the count it saw.
    Full(u32),
    /// Over the credential's request rate: how long until it may come again.
    RateLimited(Duration),
}

/// Releases not yet applied in Redis: (account, resource type, how many).
pub type Releases = [(String, String, u32)];

/// This instance's handle on the shared counters.
#[derive(Clone)]
pub struct Shared {
    conn: ConnectionManager,
    instance: String,
    lease: Duration,
    admit: Script,
    release: Script,
    usage: Script,
}

fn counter_key(account_sid: &str, resource_type: &str) -> String {
    format!("{PREFIX}{account_sid}:{resource_type}")
}

fn max_key(account_sid: &str, resource_type: &str) -> String {
    format!("{PREFIX}{account_sid}:{resource_type}:max")
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

impl Shared {
    /// `instance` names this process's fields; its counts outlive it by `lease`.
    pub fn new(conn: ConnectionManager, instance: String, lease: Duration) -> Shared {
        Shared {
            conn,
            instance,
            lease,
            admit: Script::new(ADMIT),
            release: Script::new(RELEASE),
            usage: Script::new(USAGE),
        }
    }

    /// How often the lease is renewed and the counts rewritten.
    pub fn refresh_period(&self) -> Duration {
        self.lease / 3
    }

    /// Applies `releases`, then admits a request of `account_sid` unless the
    /// credential is over `rate` or `threshold` are in flight across live
    /// instances; all in one round trip.
    pub async fn admit(
        &self,
        account_sid: &str,
        resource_type: &str,
        threshold: u32,
        rate: Option<(&str, Rate)>,
        releases: &Releases,
    ) -> redis::RedisResult<Admission> {
        let mut invocation = self.admit.prepare_invoke();
        invocation
            .key(counter_key(account_sid, resource_type))
            .key(max_key(account_sid, resource_type));
        match rate {
            Some((credential, _)) => {
                invocation.key(rate_key(credential));
            }
            None => {
                invocation.key(rate_key(""));
            }
        }
        invocation
            .arg(&self.instance)
            .arg(threshold)
            .arg(lease_prefix());
        let (interval, tolerance) = match rate {
            Some((_, rate)) => (
                micros(rate.interval).max(1),
                micros(rate.interval) * u64::from(rate.burst.saturating_sub(1)),
            ),
            None => (0, 0),
        };
        invocation.arg(interval).arg(tolerance);
        for (account_sid, resource_type, n) in releases {
            invocation
                .key(counter_key(account_sid, resource_type))
                .arg(*n);
        }
        let (outcome, value): (u8, u64) = invocation.invoke_async(&mut self.conn.clone()).await?;
        let count = u32::try_from(value).unwrap_or(u32::MAX);
        Ok(match outcome {
            1 => Admission::Admitted(count),
            2 => Admission::RateLimited(Duration::from_micros(value)),
            _ => Admission::Full(count),
        })
    }

    /// Gives back slots of this instance.
    pub async fn release(&self, releases: &Releases) -> redis::RedisResult<()> {
        if releases.is_empty() {
            return Ok(());
        }
        let mut invocation = self.release.prepare_invoke();
        invocation.arg(&self.instance);
        for (account_sid, resource_type, n) in releases {
            invocation
                .key(counter_key(account_sid, resource_type))
                .arg(*n);
        }
        let _: u64 = invocation.invoke_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// Requests in flight across live instances, and the most ever at once.
    pub async fn usage(
        &self,
        account_sid: &str,
        resource_type: &str,
    ) -> redis::RedisResult<(u32, u32)> {
        self.usage
            .key(counter_key(account_sid, resource_type))
            .key(max_key(account_sid, resource_type))
            .arg(lease_prefix())
            .invoke_async(&mut self.conn.clone())
            .await
    }

    /// Renews this instance's lease and rewrites its fields in `local`
    /// (account, resource type, requests this instance has in flight).
    pub async fn refresh(&self, local: &Releases) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(format!("{}{}", lease_prefix(), self.instance))
            .arg(1)
            .arg("PX")
            .arg(u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX))
            .ignore();
        for (account_sid, resource_type, count) in local {
            let key = counter_key(account_sid, resource_type);
            if *count == 0 {
                pipe.hdel(key, &self.instance).ignore();
            } else {
                pipe.hset(key, &self.instance, *count).ignore();
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
}
