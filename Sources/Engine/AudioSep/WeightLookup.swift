/// Tensors by checkpoint key, as the model binds them.
public protocol WeightLookup {
    /// The shape of tensor `key`, or nil when the checkpoint has no such tensor.
    func shape(of key: String) -> [Int]?
    /// The tensor's values as float32, row-major.
    func floats(_ key: String) throws -> [Float]
    /// Where the tensors come from, for error messages.
    var origin: String { get }
    /// The tensor in place in its memory-mapped file, when the tensors come from one.
    func mappedView(_ key: String) -> TensorView?
}

extension WeightLookup {
    public func mappedView(_ key: String) -> TensorView? { nil }

    /// Values of `key`, which must exist with exactly `shape`.
    func require(_ key: String, shape expected: [Int]) throws -> [Float] {
        guard let shape = shape(of: key) else { throw ModelError.missingTensor(file: origin, key: key) }
        guard shape == expected else {
            throw ModelError.wrongShape(file: origin, key: key, got: shape, expected: expected)
        }
        return try floats(key)
    }

    /// The shape of `key`, which must exist with `rank` dimensions.
    func requireShape(_ key: String, rank: Int) throws -> [Int] {
        guard let shape = shape(of: key) else { throw ModelError.missingTensor(file: origin, key: key) }
        guard shape.count == rank else {
            throw ModelError.wrongShape(file: origin, key: key, got: shape, expected: Array(repeating: -1, count: rank))
        }
        return shape
    }
}

/// Tensors held in memory (tests, and weights assembled from several files).
public struct InMemoryWeights: WeightLookup {
    public var tensors: [String: (shape: [Int], values: [Float])]
    public let origin: String

    public init(tensors: [String: (shape: [Int], values: [Float])], origin: String) {
        self.tensors = tensors
        self.origin = origin
    }

    public func shape(of key: String) -> [Int]? { tensors[key]?.shape }
    public func floats(_ key: String) throws -> [Float] {
        guard let tensor = tensors[key] else { throw ModelError.missingTensor(file: origin, key: key) }
        return tensor.values
    }
}

/// Errors of loading and running the model; each names the file and tensor involved.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    case missingTensor(file: String, key: String)
    case wrongShape(file: String, key: String, got: [Int], expected: [Int])
    case badEmbedding(file: String, reason: String)
    case noModel(searched: [String])
    case badTokens(reason: String)
    case missingTokenizer(searched: String)
    /// A layer width read from a tensor's shape is outside 1…maximum.
    case implausibleWidth(file: String, key: String, width: Int, maximum: Int)
    /// The attention head count (from config.json or a converted file's metadata) cannot split the width.
    case invalidAttentionHeads(file: String, heads: Int, hidden: Int)

    public var description: String {
        switch self {
        case .missingTensor(let file, let key):
            return "\(file): tensor '\(key)' is missing"
        case .wrongShape(let file, let key, let got, let expected):
            let want = expected.map { $0 < 0 ? "?" : String($0) }.joined(separator: "×")
            return "\(file): tensor '\(key)' has shape \(got.map(String.init).joined(separator: "×")), expected \(want)"
        case .badEmbedding(let file, let reason):
            return "\(file): not a query embedding (\(reason))"
        case .missingTokenizer(let searched):
            return "no tokenizer files (vocab.json, merges.txt) for text queries in \(searched): give --roberta-dir, or --embedding FILE"
        case .badTokens(let reason):
            return "cannot encode the query: \(reason)"
        case .implausibleWidth(let file, let key, let width, let maximum):
            return "\(file): tensor '\(key)' makes a layer \(width) channels wide; the network takes 1 to \(maximum)"
        case .invalidAttentionHeads(let file, let heads, let hidden):
            return "\(file): \(heads) attention heads cannot split the text encoder's width of \(hidden)"
        case .noModel(let searched):
            return "no AudioSep model found (looked in \(searched.joined(separator: ", ")))"
        }
    }
}
