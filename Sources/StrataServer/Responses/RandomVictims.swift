/// The keys of a bounded cache, from which a random one can be picked and removed in constant
/// time. A random victim, not the oldest: when a site larger than the cache is read in a cycle
/// (crawlers, the mixed benchmark), first-in-first-out and least-recently-used keep nothing at all,
/// a random victim keeps about cache ÷ site of it, and popular entries, asked for again before
/// they are picked, stay.
struct RandomVictims<Key: Hashable> {
    private var keys: [Key] = []
    private var positions: [Key: Int] = [:]
    private var generator = CacheRandom()

    var count: Int { keys.count }

    mutating func insert(_ key: Key) {
        guard positions[key] == nil else { return }
        positions[key] = keys.count
        keys.append(key)
    }

    /// Removes and returns a random key; nil when there is none.
    mutating func removeRandom() -> Key? {
        guard !keys.isEmpty else { return nil }
        let victim = keys[Int.random(in: 0..<keys.count, using: &generator)]
        remove(victim)
        return victim
    }

    mutating func remove(_ key: Key) {
        guard let position = positions.removeValue(forKey: key) else { return }
        let last = keys.removeLast()
        if position < keys.count {
            keys[position] = last
            positions[last] = position
        }
    }

    mutating func removeAll() {
        keys.removeAll()
        positions.removeAll()
    }
}

/// Random numbers for cache decisions, which must be spread, not secret. (The system generator is
/// a `getrandom` system call per number on Linux, and a cache miss asked for one or two.)
/// SplitMix64, seeded once from the system generator.
struct CacheRandom: RandomNumberGenerator {
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        self.init(seed: system.next())
    }

    /// The same numbers for the same seed (tests replay with it).
    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
