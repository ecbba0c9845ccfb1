import Files

/// Errors of loading and running the model; each names the file and tensor involved.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    case missingTensor(file: String, key: String)
    case wrongShape(file: String, key: String, got: [Int], expected: [Int])
    case badEmbedding(file: String, reason: String)
    /// A query embedding (a file, or one the text encoder computed) holds NaN, infinity or a
    /// magnitude above `Self.embeddingMagnitudeLimit` (`value`, as text) at `index`.
    case implausibleEmbedding(origin: String, index: Int, value: String)
    case noModel(searched: [String])
    /// A query embedding was given, but no model to use it with.
    case embeddingWithoutModel(searched: [String])
    /// A model folder holds several converted `.safetensors` (or `audiosep.safetensors` and another).
    case ambiguousModel(folder: String, candidates: [String])
    /// A model folder holds `.safetensors` files, none converted by us nor named `audiosep.safetensors`.
    case noConvertedModel(folder: String, found: [String])
    case badTokens(reason: String)
    case missingTokenizer(searched: String)
    /// A layer width read from a tensor's shape is outside 1…maximum.
    case implausibleWidth(file: String, key: String, width: Int, maximum: Int)
    /// The attention head count (from config.json or a converted file's metadata) cannot split the width.
    case invalidAttentionHeads(file: String, heads: Int, hidden: Int)

    /// The largest magnitude a query embedding may hold (`QueryEmbedding.maximumMagnitude`).
    public static let embeddingMagnitudeLimit: Float = 1e4

    /// One line; quoted file content with its control characters escaped.
    public var description: String { message.printable }

    private var message: String {
        switch self {
        case .missingTensor(let file, let key):
            return "\(file): tensor '\(key)' is missing"
        case .wrongShape(let file, let key, let got, let expected):
            let want = expected.map { $0 < 0 ? "?" : String($0) }.joined(separator: "×")
            return "\(file): tensor '\(key)' has shape \(got.map(String.init).joined(separator: "×")), expected \(want)"
        case .badEmbedding(let file, let reason):
            return "\(file): not a query embedding (\(reason))"
        case .implausibleEmbedding(let origin, let index, let value):
            return "\(origin): query embedding value \(index) is \(value); a query embedding holds finite values within "
                + "±\(Int(Self.embeddingMagnitudeLimit)) (CLAP's are L2-normalised, within ±1)"
        case .missingTokenizer(let searched):
            return "no tokenizer files (vocab.json, merges.txt) for text queries in \(searched): give --roberta-dir, or --embedding FILE"
        case .badTokens(let reason):
            return "cannot encode the query: \(reason)"
        case .implausibleWidth(let file, let key, let width, let maximum):
            return "\(file): tensor '\(key)' makes a layer \(width) channels wide; the network takes 1 to \(maximum)"
        case .invalidAttentionHeads(let file, let heads, let hidden):
            return "\(file): \(heads) attention heads cannot split the text encoder's width of \(hidden)"
        case .ambiguousModel(let folder, let candidates):
            return "\(folder): several models (\(candidates.joined(separator: ", "))); give --model one of them"
        case .noConvertedModel(let folder, let found):
            return "\(folder): no converted model among \(found.joined(separator: ", ")) (none has format \(ModelFiles.convertedFormat) "
                + "nor is named \(ModelFiles.convertedName)); give --model the file, or convert the model"
        case .noModel(let searched):
            return "no AudioSep model found (looked in \(searched.joined(separator: ", "))): `audiosep-stream model download` fetches it"
        case .embeddingWithoutModel(let searched):
            return "--embedding is a query for the AudioSep model, and no AudioSep model was found (looked in "
                + "\(searched.joined(separator: ", "))): `audiosep-stream model download` fetches it"
        }
    }
}
