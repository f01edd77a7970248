// The random numbers behind sampling: Philox4x32-10 (Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3", SC'11), a counter-based generator. The draw for a sequence's step n is a pure
// function of (seed, n): no generator state is carried between tokens, so the same request gives
// the same tokens whichever process, thread or batch samples it, and after a restart at any step.
// Checked against Random123's published known-answer vectors (tests/kat_vectors).

/// Philox4x32 with 10 rounds: one 128-bit counter block and a 64-bit key give 128 random bits.
enum Philox4x32 {
    // Multipliers and Weyl key increments from the Random123 reference implementation.
    static let multiplier0: UInt32 = 0xD251_1F53
    static let multiplier1: UInt32 = 0xCD9E_8D57
    static let weyl0: UInt32 = 0x9E37_79B9
    static let weyl1: UInt32 = 0xBB67_AE85
    static let rounds = 10

    /// The output block for `counter` under `key` (the words are in Random123's order).
    static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c = counter
        var k = key
        for round in 0..<rounds {
            if round > 0 { k &+= SIMD2(weyl0, weyl1) }  // the key schedule bumps before rounds 2...R
            let p0 = UInt64(multiplier0) &* UInt64(c[0])
            let p1 = UInt64(multiplier1) &* UInt64(c[2])
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c = SIMD4(hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0)
        }
        return c
    }
}

/// The uniform number in [0, 1) that decides the token at `step` of the request with `seed`.
/// Counter = (step low word, step high word, 0, 0), key = (seed low word, seed high word);
/// the top 53 bits of the first two output words become the fraction.
func samplingUniform(seed: UInt64, step: UInt64) -> Double {
    let counter = SIMD4<UInt32>(UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32), 0, 0)
    let key = SIMD2<UInt32>(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    let out = Philox4x32.block(counter: counter, key: key)
    let bits = UInt64(out[0]) << 32 | UInt64(out[1])
    return Double(bits >> 11) * 0x1p-53
}
