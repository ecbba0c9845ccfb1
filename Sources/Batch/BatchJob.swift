/// One line of a manifest: a file to separate and where the result goes.
public struct BatchJob: Equatable, Sendable {
    /// Position in the whole manifest (0-based), which decides the shard: the same in every shard.
    public var index: Int
    /// The manifest line it came from (counted from 1); nil for a job from a folder tree.
    public var line: Int?
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

    /// How messages name it: `job 4 (line 5, input 'in/4.wav')`.
    public var label: String {
        "job \(index) (" + (line.map { "line \($0), " } ?? "") + "input '\(input)')"
    }

    public init(index: Int, input: String, output: String, text: String? = nil, embedding: String? = nil, line: Int? = nil) {
        self.index = index
        self.line = line
        self.input = input
        self.output = output
        self.text = text
        self.embedding = embedding
    }
}
