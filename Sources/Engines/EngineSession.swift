import AudioSep
import DSP
import Foundation
import Separation
import Text
import Weights

/// The one place separators are built: an engine choice and, for AudioSep, the model loaded once;
/// then the separator for any list of queries (one stem each), as the filter, the worker and
/// batch ask for them. The same queries give the same separator whoever asks.
public final class EngineSession {
    public let choice: EngineChoice
    /// The loaded AudioSep model; nil for the built-in and identity engines.
    public let model: LoadedModel?
    /// One line for stderr when `auto` found no model and takes the built-in engine.
    public let note: String?
    private let cache: EmbeddingCache?
    private let workspace: Workspace?
    private let threads: Int

    /// - Parameters:
    ///   - choice: `auto` picks the best engine available; `audiosep` needs a model;
    ///     `identity` passes audio through.
    ///   - files: where the AudioSep model is, if anywhere; loaded here when it is used.
    ///   - threads: threads the engine computes on.
    ///   - cache: where text-query embeddings are kept between runs (nil: no cache).
    ///   - compute: how AudioSep's network computes (convolution algorithm, precision).
    public convenience init(_ choice: EngineChoice, model files: ModelFiles?, threads: Int = 1, cache: EmbeddingCache? = nil,
                            compute: ComputeOptions = .standard) throws {
        let usesModel: Bool
        switch choice {
        case .audiosep:
            guard let files, !files.isEmpty else { throw ModelError.noModel(searched: EngineFactory.searchedPlaces) }
            usesModel = true
        case .auto:
            usesModel = !(files?.isEmpty ?? true)
        case .dsp, .identity:
            usesModel = false
        }
        let model = usesModel ? try files.map { try LoadedModel(files: $0, compute: compute) } : nil
        self.init(choice, loaded: model, workspace: model == nil ? nil : Workspace(threads: threads), threads: threads, cache: cache)
    }

    /// Over a model loaded already (the worker keeps several), computing in `workspace`.
    public init(_ choice: EngineChoice, loaded model: LoadedModel?, workspace: Workspace?, threads: Int,
                cache: EmbeddingCache?) {
        self.choice = choice
        self.model = model
        self.workspace = model == nil ? nil : workspace ?? Workspace(threads: threads)
        self.threads = threads
        self.cache = cache
        note = choice == .auto && model == nil ? EngineFactory.fallbackNote : nil
    }

    /// The separator for `queries`, one stem each, in order (or for `embedding`, which bypasses
    /// the text encoder, for one stem).
    /// - Throws: `EngineError.missingQuery`, the built-in engine's reading errors, the text
    ///   encoder's errors, `ModelError.embeddingWithoutModel`.
    public func separator(queries: [String], embedding: [Float]? = nil) throws -> Separator {
        guard embedding == nil || queries.count <= 1 else { throw EngineError.embeddingForSeveralQueries(count: queries.count) }
        if let model, let workspace {
            let vectors: [[Float]]
            if let embedding {
                vectors = [embedding]
            } else {
                guard !queries.isEmpty else { throw EngineError.missingQuery }
                vectors = try queries.map { try model.embedding(for: $0, disk: cache).values }
            }
            return AudioSepEngine(network: model.network, embeddings: vectors, workspace: workspace)
        }
        switch choice {
        case .identity:
            return IdentityEngine(stemCount: max(1, queries.count))
        case .dsp, .auto, .audiosep:
            if embedding != nil { throw ModelError.embeddingWithoutModel(searched: EngineFactory.searchedPlaces) }
            guard !queries.isEmpty else { throw EngineError.missingQuery }
            return queries.count == 1 ? try DSPEngine(query: queries[0]) : try DSPStems(queries: queries, threads: threads)
        }
    }

    /// The separator for one query (see `separator(queries:embedding:)`).
    public func separator(query: String?, embedding: [Float]?) throws -> Separator {
        try separator(queries: query.map { [$0] } ?? [], embedding: embedding)
    }

    /// The line for stderr about how `separator` was chosen and, for the built-in engine, how it
    /// read its queries; nil for AudioSep and the identity engine.
    public func note(for separator: Separator) -> String? {
        let reading = Self.reading(of: separator)
        if choice == .auto, model == nil { return EngineFactory.fallbackNote(reading: reading) }
        return reading.map { "built-in engine: " + $0 }
    }

    /// How the built-in engine read its queries ("'no vocals' → accompaniment"); nil for the others.
    public static func reading(of separator: Separator) -> String? {
        if let engine = separator as? DSPEngine { return engine.reading ?? engine.target.rawValue }
        return (separator as? DSPStems)?.reading
    }
}
