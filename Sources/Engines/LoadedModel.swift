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
    /// The memory-mapped files, kept for measuring what of them is resident.
    private let weights: MappedWeights
    /// Wall time the load took, in seconds.
    public let loadSeconds: Double
    /// The text path, or why a text query cannot be encoded with these files (no tokenizer, no
    /// CLAP weights); the network alone still separates with a given embedding.
    private let text: Result<(tokenizer: BPETokenizer, encoder: TextEncoder), Error>
    /// Embeddings by query text, most recent last.
    private var embeddings = LRUCache<String, [Float]>(capacity: 1024)

    /// Opens the files and binds the network and, when the files have them, the tokenizer and
    /// the text encoder. The network copies (and transforms) its weights, so their mapped pages
    /// are released once it is bound; the text encoder's are not read until a query needs
    /// encoding, and released again once it is encoded: the model keeps in memory only what the
    /// separation uses.
    /// - Throws: the Engine module's errors naming the file and tensor.
    public init(files: ModelFiles, compute: ComputeOptions = .standard) throws {
        let started = Date()
        self.files = files
        key = Self.key(for: files)
        let weights = try MappedWeights(files: files)
        self.weights = weights
        network = try ResUNet30(weights, prefix: CheckpointLayout.networkPrefix, options: compute)
        // The network holds its own forms of every weight: the pages it read are not needed.
        MappedPages.release(weights.views())
        text = Result { (try QueryEncoder.tokenizer(files), try TextEncoder(files: files, weights: weights)) }
        loadSeconds = Date().timeIntervalSince(started)
    }

    /// Bytes of the text encoder's mapped weights resident in this process now (nil when the
    /// model has no text encoder or the count cannot be had): zero but while a query is encoded.
    public var textEncoderResidentBytes: Int? {
        guard case .success(let text) = text else { return nil }
        return text.encoder.residentWeightBytes
    }

    /// Bytes of all the model's mapped weights resident in this process now (nil when unknown).
    public var mappedResidentBytes: Int? { MappedPages.residentBytes(weights.views()) }

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
        // The encoder's pages are read for this query and given back after it, also when it fails;
        // with any other page of the files the kernel mapped around them (fault-around maps up
        // to 64 KB of neighbours already in the page cache: the network's, next to the encoder's).
        defer { MappedPages.release(weights.views()) }
        let values = try encoder.embed(tokenizer.encode(query))
        // Finite weights can still overflow to NaN or infinity; never keep or use that.
        try QueryEmbedding.validate(values, origin: "the text embedding of '\(query)' (\(files.label))")
        embeddings.insert(values, for: query)
        disk?.store(values, fingerprint: key, query: query)
        return (values, false)
    }
}
