//! Request rate limits: a general one and a stricter one for `/v1/auth/*`, each a GCRA
//! token bucket per caller (API key, user, or, for anonymous requests, client address).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Limits;

pub struct RateLimits {
    general: DefaultKeyedRateLimiter<String>,
    auth: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).expect("at least one"))
}

impl RateLimits {
    pub fn new(limits: &Limits) -> Self {
        Self {
            general: RateLimiter::keyed(per_minute(limits.rate_limit_per_minute)),
            auth: RateLimiter::keyed(per_minute(limits.auth_rate_limit_per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from `key`'s general budget (and its auth budget on auth
    /// endpoints). `Err` carries how long to wait.
    pub fn check(&self, key: &str, auth_endpoint: bool) -> Result<(), Duration> {
        let key = key.to_owned();
        if auth_endpoint {
            self.auth.check_key(&key).map_err(|not_until| not_until.wait_time_from(self.clock.now()))?;
        }
        self.general.check_key(&key).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets callers whose buckets are full again, so that the maps do not grow with
    /// every address that ever called.
    pub fn forget_idle(&self) {
        self.general.retain_recent();
        self.auth.retain_recent();
        self.general.shrink_to_fit();
        self.auth.shrink_to_fit();
    }
}

/// Whole seconds to put in `Retry-After`: rounded up, and never 0.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(6)), 6);
    }

    #[test]
    fn budgets_are_per_key_and_auth_is_stricter() {
        let limits =
            RateLimits::new(&Limits { rate_limit_per_minute: 3, auth_rate_limit_per_minute: 2, ..Limits::default() });
        assert!(limits.check("a", true).is_ok());
        assert!(limits.check("a", true).is_ok());
        let wait = limits.check("a", true).unwrap_err();
        assert!(wait > Duration::from_secs(20) && wait <= Duration::from_secs(30), "{wait:?}");
        // The general budget still has room for a non-auth request, then runs out.
        assert!(limits.check("a", false).is_ok());
        assert!(limits.check("a", false).is_err());
        // Another caller is unaffected.
        assert!(limits.check("b", true).is_ok());
    }
}
