import Foundation

/// Errors of choosing and running an engine. Each carries the offending value.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case unknownEngine(String)
    case wrongOutputLength(engine: String, got: Int, expected: Int)
    /// An engine returned another number of stems (one per query) or channels than it was given.
    case wrongStemCount(engine: String, got: Int, expected: Int)
    case wrongChannelCount(engine: String, got: Int, expected: Int)
    /// A query embedding stands for one query; several were asked for with it.
    case embeddingForSeveralQueries(count: Int)
    case missingQuery
    case unsupportedQuery(query: String, known: String)
    /// A query that asks the built-in engine for more than one thing at once.
    case severalTargets(query: String, targets: [String])
    /// Memory the engine asked for and could not have.
    case outOfMemory(bytes: Int)
    /// A window whose feature maps need more memory than the process can have (the machine's, or
    /// its address-space limit).
    case windowTooLarge(engine: String, seconds: Double, neededBytes: Int, physicalBytes: Int, largestSeconds: Double)

    public var description: String {
        switch self {
        case .unknownEngine(let name):
            return "unknown engine '\(name)' (known: \(EngineChoice.names.joined(separator: ", ")))"
        case .unsupportedQuery(let query, let known):
            return "the built-in engine cannot separate '\(query)'; it knows \(known). For anything else, "
                + "get the AudioSep model (Audio-AGI/AudioSep's checkpoints) and give --model PATH"
        case .severalTargets(let query, let targets):
            return "the built-in engine separates one thing at a time, and '\(query)' asks for "
                + targets.map { "'\($0)'" }.joined(separator: " and ") + "; run once for each"
        case .missingQuery:
            return "say what to separate: audiosep-stream \"vocals\" (or give --embedding FILE)"
        case .outOfMemory(let bytes):
            return String(format: "out of memory: %.1f MB for the window's feature maps could not be had; give a shorter --chunk",
                          Double(bytes) / 1e6)
        case .windowTooLarge(let engine, let seconds, let needed, let physical, let largest):
            return String(format: "a %g s window needs about %.1f GB for the %@ engine's feature maps and this process can have %.1f GB; "
                          + "give --chunk %g or less", seconds, Double(needed) / 1e9, engine, Double(physical) / 1e9, largest)
        case .wrongOutputLength(let engine, let got, let expected):
            return "engine \(engine) returned \(got) samples for a window of \(expected)"
        case .wrongStemCount(let engine, let got, let expected):
            return "engine \(engine) returned \(got) stems for \(expected) queries"
        case .embeddingForSeveralQueries(let count):
            return "an embedding stands for one query, and \(count) were given; give the queries as words, without the embedding"
        case .wrongChannelCount(let engine, let got, let expected):
            return "engine \(engine) returned \(got) channels for a window of \(expected)"
        }
    }
}
