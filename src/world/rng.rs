//! A small deterministic random generator (SplitMix64) and the float maths the renderer needs,
//! written out so that renders are bit-identical on every platform (no libm, no system RNG).

/// SplitMix64: tiny, fast and statistically fine for sampling scenes.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// An independent stream for `(seed, stream)`, so that e.g. the attributes and the nuisance
    /// variation of one seed never share draws.
    pub fn stream(seed: u64, stream: u64) -> Self {
        Rng(mix(seed ^ mix(stream.wrapping_add(0x9E37_79B9_7F4A_7C15))))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in [0, 1) with 24 random bits (exact in f32).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32) * n as u64 >> 32) as usize
    }

    pub fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Approximately standard normal (sum of four uniforms, rescaled): bounded, platform-exact.
    pub fn normal(&mut self) -> f32 {
        let s = self.unit() + self.unit() + self.unit() + self.unit() - 2.0;
        s * 1.732_050_8
    }
}

/// The SplitMix64 finaliser: a strong 64-bit integer hash.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// (sin, cos) of `degrees` by a fixed polynomial, identical on every platform. Only small angles
/// (head tilt, light direction) are used, but the range reduction makes it valid everywhere.
pub fn sin_cos_deg(degrees: f32) -> (f32, f32) {
    let mut d = degrees as f64 % 360.0;
    if d > 180.0 {
        d -= 360.0;
    } else if d < -180.0 {
        d += 360.0;
    }
    // Reflect into [-90, 90], where the Taylor series below is accurate to ~1e-7.
    let (d, flip) = if d > 90.0 {
        (180.0 - d, true)
    } else if d < -90.0 {
        (-180.0 - d, true)
    } else {
        (d, false)
    };
    let x = d * std::f64::consts::PI / 180.0;
    let x2 = x * x;
    let sin = x * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0 * (1.0 - x2 / 110.0)))));
    let cos = 1.0 - x2 / 2.0 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0 * (1.0 - x2 / 56.0 * (1.0 - x2 / 90.0 * (1.0 - x2 / 132.0)))));
    (sin as f32, if flip { -cos as f32 } else { cos as f32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_cos_matches_std_closely() {
        for i in -720..=720 {
            let d = i as f32 * 0.5;
            let (s, c) = sin_cos_deg(d);
            let r = (d as f64).to_radians();
            assert!((s as f64 - r.sin()).abs() < 1e-5, "sin {d}");
            assert!((c as f64 - r.cos()).abs() < 1e-5, "cos {d}");
        }
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(7, 1).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::stream(7, 1).next_u64(), Rng::stream(7, 2).next_u64());
        let mut r = Rng::new(3);
        assert!((0..1000).all(|_| r.below(7) < 7));
    }
}
