import AudioSep
import DSP
import Separation
import Text
import Weights

/// An engine, and what the user should be told about how it was chosen.
public struct EngineSelection {
    public let separator: Separator
    /// One line for stderr: that `auto` found no model and took the built-in engine, and how the
    /// built-in engine read the queries; nil for AudioSep and the identity engine.
    public let note: String?
}

/// A separator for one run: an `EngineSession` made and asked once.
public enum EngineFactory {
    /// - Parameters: as `EngineSession.init` and `EngineSession.separator(queries:embedding:)`.
    public static func select(_ choice: EngineChoice, queries: [String], model: ModelFiles?, embedding: [Float]?,
                              threads: Int = 1, cache: EmbeddingCache? = nil,
                              compute: ComputeOptions = .standard) throws -> EngineSelection {
        // A given embedding needs the model: said before the built-in engine reads the words.
        if choice == .auto, embedding != nil, model?.isEmpty ?? true {
            throw ModelError.embeddingWithoutModel(searched: searchedPlaces)
        }
        let session = try EngineSession(choice, model: model, threads: threads, cache: cache, compute: compute)
        let separator = try session.separator(queries: queries, embedding: embedding)
        return EngineSelection(separator: separator, note: session.note(for: separator))
    }

    public static func select(_ choice: EngineChoice, query: String?, model: ModelFiles?, embedding: [Float]?,
                              threads: Int = 1, cache: EmbeddingCache? = nil,
                              compute: ComputeOptions = .standard) throws -> EngineSelection {
        try select(choice, queries: query.map { [$0] } ?? [], model: model, embedding: embedding, threads: threads,
                   cache: cache, compute: compute)
    }

    /// The separator alone (see `select`); `name` is parsed as `EngineChoice(parsing:)` does.
    public static func make(name: String, query: String?, model: ModelFiles?, embedding: [Float]?,
                            threads: Int = 1, cache: EmbeddingCache? = nil, compute: ComputeOptions = .standard) throws -> Separator {
        try select(EngineChoice(parsing: name), query: query, model: model, embedding: embedding, threads: threads,
                   cache: cache, compute: compute).separator
    }

    static let fallbackNote = fallbackNote(reading: nil)

    /// The line that says `auto` found no model, and (for the built-in engine) what it made of the queries.
    static func fallbackNote(reading: String?) -> String {
        "no AudioSep model found: using the built-in engine\(reading.map { ", " + $0 } ?? "") (classical separation, far "
            + "below AudioSep's quality); run `audiosep-stream model download` to get AudioSep, or give --model PATH or set AUDIOSEP_MODEL"
    }

    static var searchedPlaces: [String] { ["--model", "AUDIOSEP_MODEL", ModelFiles.cacheDirectory] }
}
