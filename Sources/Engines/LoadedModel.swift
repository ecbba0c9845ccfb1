import AudioSep
import Foundation
import Text
import Weights

/// An AudioSep model as the worker keeps it between commands: the memory-mapped weights, the
/// separation network bound to them, the text encoder and tokenizer, and the query embeddings
/// computed so far. Building an engine for a query from it allocates nothing large.
public final class LoadedModel {
    /// The files, with absolute paths.
    public let files: ModelFiles
    /// Identifies the files (resolved paths, sizes, modification times): the model cache's key.
    public let key: String
    public let network: ResUNet30
    /// Wall time the load took, in seconds.
    public let loadSeconds: Double
    /// The text path, or why a text query cannot be encoded with these files (no tokenizer, no
    /// CLAP weights); the network alone still separates with a given embedding.
    private let text: Result<(tokenizer: BPETokenizer, encoder: TextEncoder), Error>
    /// Embeddings by query text, most recent last.
    private var embeddings = LRUCache<String, [Float]>(capacity: 1024)

    /// Opens the files and binds the network and, when the files have them, the tokenizer and
    /// the text encoder (all zero-copy over the memory maps).
    /// - Throws: the Engine module's errors naming the file and tensor.
    public init(files: ModelFiles, compute: ComputeOptions = .standard) throws {
        let started = Date()
        self.files = files
        key = Self.key(for: files)
        let weights = try MappedWeights(files: files)
        network = try ResUNet30(weights, prefix: CheckpointLayout.networkPrefix, options: compute)
        text = Result { (try QueryEncoder.tokenizer(files), try TextEncoder(files: files, weights: weights)) }
        loadSeconds = Date().timeIntervalSince(started)
    }

    public static func key(for files: ModelFiles) -> String { EmbeddingCache.fingerprint(files) }

    /// Why text queries cannot be encoded, or nil when they can.
    public var textUnavailable: Error? {
        if case .failure(let error) = text { return error }
        return nil
    }

    /// The embedding of `query`: from this model's memory, then from the disk cache (shared with
    /// the command line), else encoded and remembered in both.
    /// - Returns: the embedding and whether it came from a cache.
    public func embedding(for query: String, disk: EmbeddingCache?) throws -> (values: [Float], cached: Bool) {
        if let known = embeddings.value(for: query) { return (known, true) }
        if let stored = disk?.lookup(fingerprint: key, query: query) {
            embeddings.insert(stored, for: query)
            return (stored, true)
        }
        let (tokenizer, encoder) = try text.get()
        let values = try encoder.embed(tokenizer.encode(query))
        // Finite weights can still overflow to NaN or infinity; never keep or use that.
        try QueryEmbedding.validate(values, origin: "the text embedding of '\(query)' (\(files.label))")
        embeddings.insert(values, for: query)
        disk?.store(values, fingerprint: key, query: query)
        return (values, false)
    }
}
