import AudioSep
import DSP
import Separation
import Text
import Weights

/// One engine choice for many queries: the model is loaded once, and each query's separator is
/// built over it (for AudioSep, the shared network and workspace and the query's embedding), as
/// `batch` runs a manifest. Each separator equals the one `EngineFactory.select` builds for the
/// same query, so a job's output equals the filter's.
public final class EngineSession {
    public let choice: EngineChoice
    /// The loaded AudioSep model; nil for the built-in and identity engines.
    public let model: LoadedModel?
    /// One line for stderr when `auto` found no model and takes the built-in engine.
    public let note: String?
    private let cache: EmbeddingCache?
    private let workspace: Workspace?

    /// - Parameters: as `EngineFactory.select`; the model, when one is used, is loaded here.
    public init(_ choice: EngineChoice, model files: ModelFiles?, threads: Int = 1, cache: EmbeddingCache? = nil,
                compute: ComputeOptions = .standard) throws {
        self.choice = choice
        self.cache = cache
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
        if usesModel, let files {
            model = try LoadedModel(files: files, compute: compute)
            workspace = Workspace(threads: threads)
        } else {
            model = nil
            workspace = nil
        }
        note = choice == .auto && model == nil ? EngineFactory.fallbackNote : nil
    }

    /// The separator for `query` (or for `embedding`, which bypasses the text encoder).
    public func separator(query: String?, embedding: [Float]?) throws -> Separator {
        if let model, let workspace {
            let vector: [Float]
            if let embedding {
                vector = embedding
            } else {
                guard let query else { throw EngineError.missingQuery }
                vector = try model.embedding(for: query, disk: cache).values
                try QueryEmbedding.validate(vector, origin: "the text embedding of '\(query)' (\(model.files.label))")
            }
            return AudioSepEngine(network: model.network, embedding: vector, workspace: workspace)
        }
        switch choice {
        case .identity:
            return IdentityEngine()
        case .dsp, .auto, .audiosep:
            guard let query else { throw EngineError.missingQuery }
            return try DSPEngine(query: query)
        }
    }
}
