import Foundation
import Weights

/// Text query → query embedding: the cache first, then tokenizer + CLAP text encoder.
public enum QueryEncoder {
    /// RoBERTa's tokenizer: from the `roberta-base/` folder, or from a converted file's metadata.
    public static func tokenizer(_ files: ModelFiles) throws -> BPETokenizer {
        if let roberta = files.robertaDirectory {
            return try BPETokenizer(directory: roberta)
        }
        if let path = files.safetensors {
            let file = try SafeTensorsFile(path: path)
            if let vocabulary = file.metadata[BPETokenizer.vocabularyFileName], let merges = file.metadata[BPETokenizer.mergesFileName] {
                return try BPETokenizer(vocabulary: vocabulary, merges: merges)
            }
        }
        throw ModelError.missingTokenizer(searched: files.robertaDirectory ?? files.safetensors ?? files.checkpoint ?? "the model")
    }

    /// The embedding of `text`. With a cache, a repeated query touches neither tokenizer nor encoder.
    /// - Parameter weights: the model's weights when already open (shared with the network).
    public static func embedding(for text: String, files: ModelFiles, weights: MappedWeights? = nil,
                                 cache: EmbeddingCache?) throws -> [Float] {
        let fingerprint = EmbeddingCache.fingerprint(files)
        if let cache, let hit = cache.lookup(fingerprint: fingerprint, query: text) { return hit }
        let ids = try tokenizer(files).encode(text)
        let encoder = try TextEncoder(files: files, weights: weights)
        defer { encoder.releaseWeights() }   // when the weights are shared with a network that lives on
        let embedding = try encoder.embed(ids)
        // Finite weights can still overflow to NaN or infinity; never cache or use that.
        try QueryEmbedding.validate(embedding, origin: "the text embedding of '\(text)' (\(files.label))")
        cache?.store(embedding, fingerprint: fingerprint, query: text)
        return embedding
    }
}
