import Files
import Stream

/// Errors of reading a manifest or choosing a shard; each names the file, line or value.
public enum BatchError: Error, Equatable, CustomStringConvertible {
    case cannotRead(path: String, cause: FailureCause)
    /// A manifest line that is not a job: `line` counts from 1.
    case badLine(path: String, line: Int, reason: String)
    case emptyManifest(path: String)
    /// `--shard K/N` (or the environment's) outside 0 ≤ K < N.
    case badShard(value: String, reason: String)
    /// The same output named by two jobs: one would overwrite the other.
    case duplicateOutput(path: String, lines: [Int])
    case noAudioFiles(folders: [String])
    /// A job's number outside the filter's bounds (`RunLimits`): that job fails, the others run.
    case invalidSetting(path: String, line: Int, field: String, error: RunLimitError)

    public var description: String {
        switch self {
        case .cannotRead(let path, let cause):
            return "cannot read manifest '\(path)': \(cause)"
        case .badLine(let path, let line, let reason):
            return "\(path):\(line): \(reason)".printable
        case .emptyManifest(let path):
            return "manifest '\(path)' holds no jobs"
        case .badShard(let value, let reason):
            return "invalid shard '\(value)': \(reason)"
        case .duplicateOutput(let path, let lines):
            return "output '\(path)' is named by several jobs (lines \(lines.map(String.init).joined(separator: ", "))); "
                + "each job needs an output of its own"
        case .noAudioFiles(let folders):
            return "no audio files in \(folders.joined(separator: ", "))"
        case .invalidSetting(let path, let line, let field, let error):
            return "\(path):\(line): \(field): \(error)".printable
        }
    }
}
