/// Errors of the Engine module. Each carries the offending value.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case unknownEngine(String)
    case wrongOutputLength(engine: String, got: Int, expected: Int)
    case missingQuery
    case unsupportedQuery(query: String, known: String)

    public var description: String {
        switch self {
        case .unknownEngine(let name):
            return "unknown engine '\(name)' (known: \(EngineFactory.knownNames.joined(separator: ", ")))"
        case .unsupportedQuery(let query, let known):
            return "the built-in engine cannot separate '\(query)'; it knows \(known). For anything else, "
                + "get the AudioSep model (Audio-AGI/AudioSep's checkpoints) and give --model PATH"
        case .missingQuery:
            return "say what to separate: audiosep-stream \"vocals\" (or give --embedding FILE)"
        case .wrongOutputLength(let engine, let got, let expected):
            return "engine \(engine) returned \(got) samples for a window of \(expected)"
        }
    }
}
