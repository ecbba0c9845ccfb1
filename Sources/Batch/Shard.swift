/// Which part of a manifest this process runs: every job whose index mod `count` is `index`.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public static let whole = Shard(uncheckedIndex: 0, count: 1)

    private init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw BatchError.badShard(value: "\(index)/\(count)", reason: "the shard count must be at least 1") }
        guard index >= 0, index < count else {
            throw BatchError.badShard(value: "\(index)/\(count)", reason: "K must be from 0 to \(count - 1) in K/N")
        }
        self.init(uncheckedIndex: index, count: count)
    }

    /// `K/N`, as `--shard` takes it.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw BatchError.badShard(value: text, reason: "give K/N, for example 0/16")
        }
        try self.init(index: index, count: count)
    }

    /// The shard the environment picks, when no `--shard` is given: a Slurm array task
    /// (`SLURM_ARRAY_TASK_ID` counted from `SLURM_ARRAY_TASK_MIN`, out of
    /// `SLURM_ARRAY_TASK_COUNT`), or GNU parallel's job number (`PARALLEL_SEQ`, from 1) with
    /// `--shard-count N`. Nil when neither is there (the whole manifest).
    public static func fromEnvironment(_ environment: [String: String], shardCount: Int?) throws -> Shard? {
        if let task = environment["SLURM_ARRAY_TASK_ID"], let countText = environment["SLURM_ARRAY_TASK_COUNT"] {
            guard let id = Int(task), let count = Int(countText) else {
                throw BatchError.badShard(value: "SLURM_ARRAY_TASK_ID=\(task) SLURM_ARRAY_TASK_COUNT=\(countText)",
                                          reason: "not integers")
            }
            let first = environment["SLURM_ARRAY_TASK_MIN"].flatMap { Int($0) } ?? 0
            return try Shard(index: id - first, count: shardCount ?? count)
        }
        if let shardCount {
            guard let seqText = environment["PARALLEL_SEQ"] else {
                throw BatchError.badShard(value: "--shard-count \(shardCount)",
                                          reason: "--shard-count takes the shard from PARALLEL_SEQ (GNU parallel), which is not set; give --shard K/N")
            }
            guard let seq = Int(seqText) else { throw BatchError.badShard(value: "PARALLEL_SEQ=\(seqText)", reason: "not an integer") }
            return try Shard(index: (seq - 1) % shardCount, count: shardCount)
        }
        return nil
    }

    public func contains(_ job: BatchJob) -> Bool { job.index % count == index }

    public var description: String { "\(index)/\(count)" }
}
