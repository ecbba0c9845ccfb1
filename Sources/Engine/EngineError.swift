/// Errors of the Engine module. Each carries the offending value.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case unknownEngine(String)
    case noEngineAvailable(query: String)
    case wrongOutputLength(engine: String, got: Int, expected: Int)
    case textEncoderMissing(query: String)

    public var description: String {
        switch self {
        case .unknownEngine(let name):
            return "unknown engine '\(name)' (known: \(EngineFactory.knownNames.joined(separator: ", ")))"
        case .noEngineAvailable(let query):
            return "no separation engine can serve '\(query)': no AudioSep model was found (give --model PATH or set "
                + "AUDIOSEP_MODEL) and the built-in engine is not in this version yet; --engine identity runs the pipeline unchanged"
        case .textEncoderMissing(let query):
            return "the text encoder is not in this version yet, so '\(query)' cannot be turned into a query; "
                + "give the query embedding with --embedding FILE (512 float32 values)"
        case .wrongOutputLength(let engine, let got, let expected):
            return "engine \(engine) returned \(got) samples for a window of \(expected)"
        }
    }
}
