//! Seeded draws: every "random" choice a scenario asks for (jitter, `one_of`, a
//! crowd's instants, voices, posts and counts), as a function of the scenario's seed,
//! the occurrence's key and what is drawn, never of a position in the file or of a
//! generator's state. So one file and seed give byte-identical plans on every machine,
//! and adding or editing one inject moves or changes no other occurrence.
//!
//! The mix is FNV-1a over the bytes of the key and the purpose, then SplitMix64's
//! finalizer with the seed: both are fixed, published functions (no crate's hasher,
//! whose output may change between versions or machines).

/// FNV-1a, 64 bits.
pub fn fnv(bytes: &[u8]) -> u64 {
    fnv_on(0xcbf2_9ce4_8422_2325, bytes)
}

/// FNV-1a's state `h` taking in more bytes.
fn fnv_on(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's finalizer: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed a scenario without `seed:` gets: from its name.
pub fn seed_of_name(name: &str) -> u64 {
    fnv(name.as_bytes()) >> 1 // below 2^63: written back as a YAML integer as it is
}

/// The draw for `what` of the occurrence `key`: 64 bits.
pub fn draw(seed: u64, key: &str, what: &str) -> u64 {
    // 0xff, a byte no UTF-8 text holds, between the two: `ab`+`c` is not `a`+`bc`.
    let h = fnv_on(fnv_on(fnv(key.as_bytes()), &[0xff]), what.as_bytes());
    mix(mix(h) ^ seed)
}

/// A draw in `[0, 1)`.
pub fn unit(seed: u64, key: &str, what: &str) -> f64 {
    (draw(seed, key, what) >> 11) as f64 / (1u64 << 53) as f64
}

/// A draw in `lo..=hi` (`lo` when `hi < lo`).
pub fn between(seed: u64, key: &str, what: &str, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        return lo;
    }
    let span = (hi - lo) as u64 + 1;
    lo + (draw(seed, key, what) % span) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_fixed_functions_of_seed_key_and_purpose() {
        // Pinned: a change here changes every jittered plan ever written.
        assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
        let a = draw(20_260_328, "tide-post#3", "jitter");
        assert_eq!(a, draw(20_260_328, "tide-post#3", "jitter"));
        assert_ne!(a, draw(20_260_329, "tide-post#3", "jitter"));
        assert_ne!(a, draw(20_260_328, "tide-post#4", "jitter"));
        assert_ne!(a, draw(20_260_328, "tide-post#3", "one_of"));
        // Key and purpose are not one string run together.
        assert_ne!(draw(1, "ab", "c"), draw(1, "a", "bc"));
    }

    #[test]
    fn between_stays_in_its_bounds_and_reaches_both() {
        let mut seen = [false; 5];
        for i in 0..500 {
            let v = between(7, &format!("k#{i}"), "x", -2, 2);
            assert!((-2..=2).contains(&v));
            seen[(v + 2) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
        assert_eq!(between(7, "k", "x", 3, 3), 3);
        let u = unit(7, "k", "x");
        assert!((0.0..1.0).contains(&u));
    }
}
