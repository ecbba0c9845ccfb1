/// Builds a separator from the name given to `--engine`.
public enum EngineFactory {
    public static let knownNames = ["auto", "audiosep", "dsp", "identity"]

    /// - Parameters:
    ///   - name: `auto` picks the best engine available; `audiosep` needs a model;
    ///     `identity` passes audio through.
    ///   - query: the text describing the source to separate.
    ///   - model: where the AudioSep model is, if anywhere.
    ///   - embedding: a query embedding given directly, bypassing the text encoder.
    ///   - threads: threads the engine computes on.
    ///   - cache: where text-query embeddings are kept between runs (nil: no cache).
    ///   - compute: how AudioSep's network computes (convolution algorithm, precision).
    public static func make(name: String, query: String?, model: ModelFiles?, embedding: [Float]?,
                            threads: Int = 1, cache: EmbeddingCache? = nil, compute: ComputeOptions = .standard) throws -> Separator {
        switch name {
        case "identity":
            return IdentityEngine()
        case "dsp":
            guard let query else { throw EngineError.missingQuery }
            return try DSPEngine(query: query)
        case "audiosep":
            guard let model, !model.isEmpty else { throw ModelError.noModel(searched: searchedPlaces) }
            return try audioSep(model: model, query: query, embedding: embedding, threads: threads, cache: cache, compute: compute)
        case "auto":
            if let model, !model.isEmpty { return try audioSep(model: model, query: query, embedding: embedding, threads: threads, cache: cache, compute: compute) }
            guard let query else { throw EngineError.missingQuery }
            return try DSPEngine(query: query)
        default:
            throw EngineError.unknownEngine(name)
        }
    }

    static var searchedPlaces: [String] { ["--model", "AUDIOSEP_MODEL", ModelFiles.cacheDirectory] }

    static func audioSep(model: ModelFiles, query: String?, embedding: [Float]?, threads: Int, cache: EmbeddingCache?,
                         compute: ComputeOptions) throws -> Separator {
        let weights = try AudioSepLoader.weights(model)
        let network = try ResUNet30(weights, prefix: AudioSepLoader.networkPrefix, options: compute)
        let vector: [Float]
        if let embedding {
            vector = embedding
        } else {
            guard let query else { throw EngineError.missingQuery }
            vector = try QueryEncoder.embedding(for: query, files: model, weights: weights, cache: cache)
        }
        return AudioSepEngine(network: network, embedding: vector, threads: threads)
    }
}
