import Arguments

/// `--shard I/N`: score only the inputs whose path falls in shard I of N (0 <= I < N). The split is a
/// fixed hash (64-bit FNV-1a) of each input's path as listed — after folders and datafiles are expanded —
/// so N processes on N machines, given the same arguments, each take a disjoint part without talking to
/// each other, and their outputs together cover every input once. (Swift's Hasher is seeded per process,
/// so it cannot serve.)
struct Shard: Equatable {
    var index: Int
    var count: Int

    init(index: Int, count: Int) { self.index = index; self.count = count }

    init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            throw ValidationError("--shard must be I/N with 0 <= I < N, e.g. --shard 0/4 ... --shard 3/4 (got '\(text)')")
        }
        index = i; count = n
    }

    func contains(_ path: String) -> Bool { Int(Shard.fnv1a64(path) % UInt64(count)) == index }

    static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }
}

/// The --shard option, for commands that score many inputs (classify, embed).
struct ShardOptions: ParsableArguments {
    // Unconditional: "-1/2" reaches the parser's range error instead of "Missing value".
    @Option(parsing: .unconditional, help: ArgumentHelp("Score only shard I of N of the inputs (0 <= I < N; a fixed hash of each path), to split one list over N processes or machines; concatenate their outputs.", valueName: "I/N"),
            transform: { try Shard(parsing: $0) })
    var shard: Shard?
}

extension AudioInputs {
    /// The expanded inputs of `shard` only (all of them when shard is nil); errors and skipped files
    /// belong to the shard their path falls in, so each is reported once across the shards.
    static func expand(_ args: [String], shard: Shard?) -> (items: [Item], errors: [(String, String)], skipped: [String]) {
        var r = expand(args)
        guard let shard else { return r }
        r.items = r.items.filter { shard.contains($0.path) }
        r.errors = r.errors.filter { shard.contains($0.0) }
        r.skipped = r.skipped.filter { shard.contains($0) }
        return r
    }
}
