//! Counters shared by every instance through Redis.
//!
//! Each account and resource type is a hash of instance id → requests that
//! instance has in flight. Admission is one Lua script: it sums the fields of
//! instances whose lease key still exists (dropping the others, so a crashed
//! instance's requests stop counting once its lease expires), compares with
//! the threshold, and increments this instance's field. A task owned by the
//! limiter refreshes the lease and rewrites this instance's fields from its
//! local counts, so a release lost to a Redis error heals within one period.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

/// How long an instance's counts survive it.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often the lease is renewed and the counts rewritten.
pub const REFRESH: Duration = Duration::from_secs(5);

const PREFIX: &str = "switchboard:limits:";

/// KEYS: counter hash, high-water mark. ARGV: instance, threshold, lease prefix.
/// Answers {admitted (0/1), count}.
const ACQUIRE: &str = r"
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

/// KEYS: counter hash. ARGV: instance.
const RELEASE: &str = r"
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return left
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

/// This instance's handle on the shared counters.
#[derive(Clone)]
pub struct Shared {
    conn: ConnectionManager,
    instance: String,
    acquire: Script,
    release: Script,
    usage: Script,
}

fn counter_key(account_sid: &str, resource_type: &str) -> String {
    format!("{PREFIX}{account_sid}:{resource_type}")
}

fn max_key(account_sid: &str, resource_type: &str) -> String {
    format!("{PREFIX}{account_sid}:{resource_type}:max")
}

/// The prefix of lease keys; the instance id follows.
pub fn lease_prefix() -> String {
    format!("{PREFIX}lease:")
}

impl Shared {
    pub fn new(conn: ConnectionManager) -> Shared {
        Shared {
            conn,
            instance: crate::sid::new_secret(),
            acquire: Script::new(ACQUIRE),
            release: Script::new(RELEASE),
            usage: Script::new(USAGE),
        }
    }

    /// Takes a slot unless `threshold` are taken across all live instances:
    /// `Ok(count)` when admitted, `Err(count)` when not.
    pub async fn try_take(
        &self,
        account_sid: &str,
        resource_type: &str,
        threshold: u32,
    ) -> redis::RedisResult<Result<u32, u32>> {
        let (admitted, count): (u8, u32) = self
            .acquire
            .key(counter_key(account_sid, resource_type))
            .key(max_key(account_sid, resource_type))
            .arg(&self.instance)
            .arg(threshold)
            .arg(lease_prefix())
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(if admitted == 1 { Ok(count) } else { Err(count) })
    }

    pub async fn give_back(
        &self,
        account_sid: &str,
        resource_type: &str,
    ) -> redis::RedisResult<()> {
        let _: i64 = self
            .release
            .key(counter_key(account_sid, resource_type))
            .arg(&self.instance)
            .invoke_async(&mut self.conn.clone())
            .await?;
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

    /// Renews this instance's lease and rewrites its fields from `local`
    /// (account, resource type, requests this instance has in flight).
    pub async fn refresh(&self, local: &[(String, String, u32)]) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(format!("{}{}", lease_prefix(), self.instance))
            .arg(1)
            .arg("PX")
            .arg(u64::try_from(LEASE.as_millis()).unwrap_or(u64::MAX))
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
}
