//! Token buckets: how the host bounds what one player or one address may
//! do in a second.

/// A token bucket: `rate` per second, up to `burst` at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bucket {
    tokens: f32,
    rate: f32,
    burst: f32,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn new(rate: f32, burst: f32) -> Self {
        Bucket {
            tokens: burst,
            rate,
            burst,
        }
    }

    /// Adds what `seconds` earn, up to the burst.
    pub(crate) fn refill(&mut self, seconds: f32) {
        self.tokens = (self.tokens + self.rate * seconds.max(0.0)).min(self.burst);
    }

    /// Takes one token if there is one.
    pub(crate) fn take(&mut self) -> bool {
        self.take_amount(1.0)
    }

    /// Takes `amount` if that much is there.
    pub(crate) fn take_amount(&mut self, amount: f32) -> bool {
        if self.tokens >= amount {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }

    /// Takes as much of `amount` as there is; what was taken.
    pub(crate) fn take_up_to(&mut self, amount: f32) -> f32 {
        let taken = amount.clamp(0.0, self.tokens.max(0.0));
        self.tokens -= taken;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let mut bucket = Bucket::new(2.0, 3.0);
        assert!(bucket.take() && bucket.take() && bucket.take());
        assert!(!bucket.take());
        bucket.refill(0.5);
        assert!(bucket.take());
        assert!(!bucket.take());
        bucket.refill(100.0);
        assert_eq!(bucket.take_up_to(10.0), 3.0);
        bucket.refill(1.0);
        assert!(!bucket.take_amount(2.5));
        assert!(bucket.take_amount(2.0));
    }
}
