/// Errors of the Engine module. Each carries the offending value.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case unknownEngine(String)
    case noEngineAvailable(query: String)
    case wrongOutputLength(engine: String, got: Int, expected: Int)
    case missingQuery

    public var description: String {
        switch self {
        case .unknownEngine(let name):
            return "unknown engine '\(name)' (known: \(EngineFactory.knownNames.joined(separator: ", ")))"
        case .noEngineAvailable(let query):
            return "no separation engine can serve '\(query)': no AudioSep model was found (give --model PATH or set "
                + "AUDIOSEP_MODEL) and the built-in engine is not in this version yet; --engine identity runs the pipeline unchanged"
        case .missingQuery:
            return "say what to separate: audiosep-stream \"vocals\" (or give --embedding FILE)"
        case .wrongOutputLength(let engine, let got, let expected):
            return "engine \(engine) returned \(got) samples for a window of \(expected)"
        }
    }
}
