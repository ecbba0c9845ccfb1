/// Builds a separator from the name given to `--engine`.
public enum EngineFactory {
    public static let knownNames = ["auto", "identity"]

    /// - Parameters:
    ///   - name: `auto` picks the best engine available; `identity` passes audio through.
    ///   - query: the text describing the source to separate.
    public static func make(name: String, query: String?) throws -> Separator {
        switch name {
        case "identity":
            return IdentityEngine()
        case "auto":
            throw EngineError.noEngineAvailable(query: query ?? "")
        default:
            throw EngineError.unknownEngine(name)
        }
    }
}
