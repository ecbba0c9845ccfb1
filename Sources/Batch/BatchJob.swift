/// One line of a manifest: a file to separate and where the result goes.
public struct BatchJob: Equatable, Sendable {
    /// Position in the whole manifest (0-based), which decides the shard: the same in every shard.
    public var index: Int
    public var input: String
    public var output: String
    /// The query in words; nil when `embedding` is given.
    public var text: String?
    /// A query embedding file (512 float32, raw or .npy), instead of `text`.
    public var embedding: String?
    /// Write the mixture minus the separated source.
    public var remove = false
    /// Separate the mono mix once and write it to every channel.
    public var downmix = false
    /// Window and overlap in seconds; nil: the engine's default, as the filter has it.
    public var chunk: Double?
    public var overlap: Double?
    /// Set when a number on the job's line is outside the filter's bounds: the job fails with it
    /// (and the rest of the shard goes on) instead of running.
    public var refusal: BatchError?

    public init(index: Int, input: String, output: String, text: String? = nil, embedding: String? = nil) {
        self.index = index
        self.input = input
        self.output = output
        self.text = text
        self.embedding = embedding
    }
}
