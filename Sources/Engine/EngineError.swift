/// Errors of the Engine module. Each carries the offending value.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case unknownEngine(String)
    case noEngineAvailable(query: String)
    case wrongOutputLength(engine: String, got: Int, expected: Int)

    public var description: String {
        switch self {
        case .unknownEngine(let name):
            return "unknown engine '\(name)' (known: \(EngineFactory.knownNames.joined(separator: ", ")))"
        case .noEngineAvailable(let query):
            return "no separation engine can serve '\(query)' yet: the AudioSep engine is not built in this version; "
                + "use --engine identity to run the pipeline unchanged"
        case .wrongOutputLength(let engine, let got, let expected):
            return "engine \(engine) returned \(got) samples for a window of \(expected)"
        }
    }
}
