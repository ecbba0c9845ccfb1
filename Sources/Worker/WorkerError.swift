/// Errors of the Worker module: each becomes one `{"status":"error","message":…}` answer.
/// Where the packaged AudioSep worker has a message for the same case, ours starts the same way
/// ("Invalid JSON", "Unknown command: …", "Checkpoint not found: …", "Input not found: …",
/// "Failed to load model: …", "Separation failed: …"), so a host that matches on them still does.
public enum WorkerError: Error, Equatable, CustomStringConvertible {
    case invalidJSON(line: String)
    case notAnObject(line: String)
    case unknownCommand(String)
    case missingField(command: String, field: String)
    case invalidField(field: String, value: String, expected: String)
    /// A named model file or folder that does not exist; `kind` is "Checkpoint", "CLAP checkpoint", …
    case fileNotFound(kind: String, path: String)
    case inputNotFound(path: String)
    /// `separate` without a loaded model, for a query the built-in engine does not know.
    case modelNotLoaded(reason: String)
    case loadFailed(reason: String)
    case separationFailed(reason: String)

    public var description: String {
        switch self {
        case .invalidJSON(let line):
            return "Invalid JSON: \(Self.excerpt(line))"
        case .notAnObject(let line):
            return "Invalid JSON: a command is an object like {\"cmd\":\"separate\",…}, got \(Self.excerpt(line))"
        case .unknownCommand(let name):
            return "Unknown command: \(name) (known: \(WorkerRequest.commandNames.joined(separator: ", ")))"
        case .missingField(let command, let field):
            return "Missing field '\(field)' in \(command)"
        case .invalidField(let field, let value, let expected):
            return "Invalid value for '\(field)': \(value) (expected \(expected))"
        case .fileNotFound(let kind, let path):
            return "\(kind) not found: \(path)"
        case .inputNotFound(let path):
            return "Input not found: \(path)"
        case .modelNotLoaded(let reason):
            return "Model not loaded. Use load_model first (\(reason))"
        case .loadFailed(let reason):
            return "Failed to load model: \(reason)"
        case .separationFailed(let reason):
            return "Separation failed: \(reason)"
        }
    }

    /// The start of an offending line, enough to recognise it.
    static func excerpt(_ line: String) -> String {
        line.count <= 80 ? line : String(line.prefix(80)) + "…"
    }
}
