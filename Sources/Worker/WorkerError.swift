import Overlap
import Separation
import Stream
import Text
import Weights

/// Errors of the Worker module: each becomes one `{"status":"error","message":…}` answer.
/// Where the packaged AudioSep worker has a message for the same case, ours starts the same way
/// ("Invalid JSON", "Unknown command: …", "Checkpoint not found: …", "Input not found: …",
/// "Failed to load model: …", "Separation failed: …"), so a host that matches on them still does.
/// Cases the packaged worker has no message for start "Separation failed: " when they stop a
/// `separate` (the packaged worker answers any failure there so).
public enum WorkerError: Error, Equatable, CustomStringConvertible {
    case invalidJSON(line: String)
    case notAnObject(line: String)
    case unknownCommand(String)
    case missingField(command: String, field: String)
    case invalidField(field: String, value: String, expected: String)
    /// A named model file or folder that does not exist; `kind` is "Checkpoint", "CLAP checkpoint", …
    case fileNotFound(kind: String, path: String)
    /// As `fileNotFound`, for a path the command gave relative: `folder` is what it was taken from
    /// (the worker executable's folder, as the packaged worker takes load_model's paths).
    case relativeFileNotFound(kind: String, path: String, folder: String)
    case inputNotFound(path: String)
    /// The input named is a folder.
    case inputIsDirectory(path: String)
    /// A command line longer than the cap, without its newline; the rest of it is skipped.
    case lineTooLong(limitBytes: Int)
    /// A stop signal ended the input early. The output holds `secondsWritten` seconds, ended
    /// validly; nil when the separation had not begun and nothing was written. By the one rule
    /// (`StagedOutput.commitPartial`) it is under the output's name when no file had that name,
    /// else `partial` says where it is (nil: removed) and the existing file was left as it was.
    case interrupted(output: String, secondsWritten: Double?, replacedNothing: Bool = true, partial: String? = nil,
                     others: [String] = [])
    /// `separate` without a loaded model, for a query the built-in engine does not know.
    case modelNotLoaded(reason: String)
    /// A model that could not be loaded, with what stopped it.
    case loadFailed(LoadFailure)
    case separationFailed(reason: String)
    /// What stopped a separation, kept as it was thrown.
    case stream(StreamError)
    case engine(EngineError)
    case overlap(OverlapError)

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
        case .relativeFileNotFound(let kind, let path, let folder):
            return "\(kind) not found: \(path) (a relative path in load_model is taken from the worker's folder, \(folder))"
        case .inputNotFound(let path):
            return "Input not found: \(path)"
        case .inputIsDirectory(let path):
            return "Separation failed: input '\(path)' is a folder, not an audio file"
        case .lineTooLong(let limitBytes):
            return "Command line too long: more than \(limitBytes) bytes"
        case .interrupted:
            return "Separation failed: stopped by a signal before the end of the input: \(stopDetail ?? "")"
        case .modelNotLoaded(let reason):
            return "Model not loaded. Use load_model first (\(reason))"
        case .loadFailed(let cause):
            return "Failed to load model: \(cause)"
        case .separationFailed(let reason):
            return "Separation failed: \(reason)"
        case .stream(let error):
            return "Separation failed: \(error)"
        case .engine(let error):
            return "Separation failed: \(error)"
        case .overlap(let error):
            return "Separation failed: \(error)"
        }
    }

    /// For `.interrupted`: what the stopped separation left, for the answer and the stop's log line.
    public var stopDetail: String? {
        guard case .interrupted(let output, let secondsWritten, let replacedNothing, let partial, let others) = self else { return nil }
        guard let secondsWritten else { return "the separation had not begun, nothing was written to '\(output)'" }
        guard others.isEmpty else {
            let first = WorkerError.interrupted(output: output, secondsWritten: secondsWritten, replacedNothing: replacedNothing,
                                                partial: partial).stopDetail!
            return ([first] + others).joined(separator: "; ")
        }
        if !replacedNothing {
            guard let partial else {
                return "the existing '\(output)' was left unchanged and the partial output removed"
            }
            return String(format: "%.2f s written to '%@', the output ended validly; the existing '%@' was left unchanged",
                          secondsWritten, partial, output)
        }
        return String(format: "%.2f s written to '%@', the output ended validly", secondsWritten, output)
    }

    /// Any error that stopped a separation, typed when its module is known.
    public static func separation(_ error: Error) -> WorkerError {
        switch error {
        case let error as WorkerError: return error
        case let error as StreamError: return .stream(error)
        case let error as EngineError: return .engine(error)
        case let error as OverlapError: return .overlap(error)
        default: return .separationFailed(reason: "\(error)")
        }
    }

    /// The start of an offending line, enough to recognise it.
    static func excerpt(_ line: String) -> String {
        line.count <= 80 ? line : String(line.prefix(80)) + "…"
    }
}

/// Why a model did not load, kept typed (the error its module threw).
public enum LoadFailure: Error, Equatable, CustomStringConvertible {
    case model(ModelError)
    case weights(WeightsError)
    case tokenizer(TokenizerError)
    case engine(EngineError)
    /// An error of no module above, as it described itself.
    case other(String)

    public init(_ error: Error) {
        switch error {
        case let error as LoadFailure: self = error
        case let error as ModelError: self = .model(error)
        case let error as WeightsError: self = .weights(error)
        case let error as TokenizerError: self = .tokenizer(error)
        case let error as EngineError: self = .engine(error)
        default: self = .other("\(error)")
        }
    }

    public var description: String {
        switch self {
        case .model(let error): return "\(error)"
        case .weights(let error): return "\(error)"
        case .tokenizer(let error): return "\(error)"
        case .engine(let error): return "\(error)"
        case .other(let text): return text
        }
    }
}
