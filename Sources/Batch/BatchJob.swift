/// One line of a manifest: a file to separate and where the result goes.
public struct BatchJob: Equatable, Sendable {
    /// Position in the whole manifest (0-based), which decides the shard: the same in every shard.
    public var index: Int
    /// The manifest line it came from (counted from 1); nil for a job from a folder tree.
    public var line: Int?
    public var input: String
    /// Where each query's stem goes, in the order of `texts` (one output for an `embedding`).
    public var outputs: [String]
    /// The queries in words, one stem each, all from one read of the input; empty when
    /// `embedding` is given.
    public var texts: [String]
    /// A query embedding file (512 float32, raw or .npy), instead of `text`.
    public var embedding: String?
    /// Where the input minus every stem goes (the filter's `--rest`); nil: not written.
    public var rest: String?
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

    /// The first output: the only one of a job with one query and no rest.
    public var output: String {
        get { outputs.first ?? "" }
        set { if outputs.isEmpty { outputs = [newValue] } else { outputs[0] = newValue } }
    }

    /// The query of a job with one query in words; nil for an embedding or several queries.
    public var text: String? {
        get { texts.count == 1 ? texts[0] : nil }
        set { texts = newValue.map { [$0] } ?? [] }
    }

    /// Every file the job writes: each stem's, then the rest's.
    public var allOutputs: [String] { outputs + (rest.map { [$0] } ?? []) }

    /// How messages name it: `job 4 (line 5, input 'in/4.wav')`.
    public var label: String {
        "job \(index) (" + (line.map { "line \($0), " } ?? "") + "input '\(input)')"
    }

    public init(index: Int, input: String, output: String, text: String? = nil, embedding: String? = nil, line: Int? = nil) {
        self.init(index: index, input: input, outputs: [output], texts: text.map { [$0] } ?? [], embedding: embedding, line: line)
    }

    /// A job with several queries (`texts`), each stem to the output at the same place, and
    /// optionally the rest.
    public init(index: Int, input: String, outputs: [String], texts: [String], embedding: String? = nil, rest: String? = nil,
                line: Int? = nil) {
        self.index = index
        self.line = line
        self.input = input
        self.outputs = outputs
        self.texts = texts
        self.embedding = embedding
        self.rest = rest
    }
}
