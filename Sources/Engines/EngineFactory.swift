import AudioSep
import DSP
import Separation
import Text
import Weights

/// An engine, and what the user should be told about how it was chosen.
public struct EngineSelection {
    public let separator: Separator
    /// One line for stderr: that `auto` found no model and took the built-in engine, and how the
    /// built-in engine read the query; nil for AudioSep and the identity engine.
    public let note: String?
}

/// Builds a separator from an `EngineChoice`.
public enum EngineFactory {
    /// - Parameters:
    ///   - choice: `auto` picks the best engine available; `audiosep` needs a model;
    ///     `identity` passes audio through.
    ///   - query: the text describing the source to separate.
    ///   - model: where the AudioSep model is, if anywhere.
    ///   - embedding: a query embedding given directly, bypassing the text encoder.
    ///   - threads: threads the engine computes on.
    ///   - cache: where text-query embeddings are kept between runs (nil: no cache).
    ///   - compute: how AudioSep's network computes (convolution algorithm, precision).
    public static func select(_ choice: EngineChoice, query: String?, model: ModelFiles?, embedding: [Float]?,
                              threads: Int = 1, cache: EmbeddingCache? = nil,
                              compute: ComputeOptions = .standard) throws -> EngineSelection {
        switch choice {
        case .identity:
            return EngineSelection(separator: IdentityEngine(), note: nil)
        case .dsp:
            guard let query else { throw EngineError.missingQuery }
            let engine = try DSPEngine(query: query)
            return EngineSelection(separator: engine, note: engine.note)
        case .audiosep:
            guard let model, !model.isEmpty else { throw ModelError.noModel(searched: searchedPlaces) }
            return EngineSelection(separator: try audioSep(model: model, query: query, embedding: embedding, threads: threads,
                                                           cache: cache, compute: compute), note: nil)
        case .auto:
            if let model, !model.isEmpty {
                return EngineSelection(separator: try audioSep(model: model, query: query, embedding: embedding,
                                                               threads: threads, cache: cache, compute: compute), note: nil)
            }
            if embedding != nil { throw ModelError.embeddingWithoutModel(searched: searchedPlaces) }
            guard let query else { throw EngineError.missingQuery }
            let engine = try DSPEngine(query: query)
            return EngineSelection(separator: engine, note: fallbackNote(reading: engine.reading))
        }
    }

    /// The separator alone (see `select`); `name` is parsed as `EngineChoice(parsing:)` does.
    public static func make(name: String, query: String?, model: ModelFiles?, embedding: [Float]?,
                            threads: Int = 1, cache: EmbeddingCache? = nil, compute: ComputeOptions = .standard) throws -> Separator {
        try select(EngineChoice(parsing: name), query: query, model: model, embedding: embedding, threads: threads,
                   cache: cache, compute: compute).separator
    }

    static let fallbackNote = fallbackNote(reading: nil)

    /// The line that says `auto` found no model, and (for one query) what the built-in engine made of it.
    static func fallbackNote(reading: String?) -> String {
        "no AudioSep model found: using the built-in engine\(reading.map { ", " + $0 } ?? "") (classical separation, far "
            + "below AudioSep's quality); run `audiosep-stream model download` to get AudioSep, or give --model PATH or set AUDIOSEP_MODEL"
    }

    static var searchedPlaces: [String] { ["--model", "AUDIOSEP_MODEL", ModelFiles.cacheDirectory] }

    static func audioSep(model: ModelFiles, query: String?, embedding: [Float]?, threads: Int, cache: EmbeddingCache?,
                         compute: ComputeOptions) throws -> Separator {
        let weights = try MappedWeights(files: model)
        let network = try ResUNet30(weights, prefix: CheckpointLayout.networkPrefix, options: compute)
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
