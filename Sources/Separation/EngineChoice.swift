/// The engines a user can name (`--engine`, the worker's `engine` field).
public enum EngineChoice: String, CaseIterable, Sendable {
    /// AudioSep when a model is found, else the built-in engine.
    case auto
    /// AudioSep; a model is required.
    case audiosep
    /// The built-in classical engine; no model.
    case dsp
    /// Returns its input; tests the pipeline.
    case identity

    /// The choice called `name`; any other name is `EngineError.unknownEngine`.
    public init(parsing name: String) throws {
        guard let choice = EngineChoice(rawValue: name) else { throw EngineError.unknownEngine(name) }
        self = choice
    }

    /// Every name, in the order help lists them.
    public static var names: [String] { allCases.map(\.rawValue) }
}
