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
    /// A folder given where a manifest was expected (`batch DIR` without `--query`).
    case manifestIsFolder(path: String)
    /// A job whose output is the same file as an earlier job's (by name through links, or by
    /// device and inode): the later job fails, naming the earlier (`other`: its `BatchJob.label`).
    case sameOutput(path: String, other: String)
    /// Two outputs of one job (several queries, or a rest) that are one file through a link.
    case sameOutputInJob(path: String)
    /// A job whose output is a file another job reads (its input or query embedding), by name
    /// through links or by device and inode: writing it would destroy that job's input.
    case outputIsReadByJob(path: String, other: String, role: String)
    /// A job whose output is a file the whole batch reads (`role`: "the manifest", "a model file").
    case outputIsBatchFile(path: String, file: String, role: String)
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
        case .manifestIsFolder(let path):
            return "'\(path)' is a folder, not a manifest: to separate the audio files under it give --query QUERY --out-dir OUT"
        case .sameOutput(let path, let other):
            return "output '\(path)' is the same file as the output of \(other); each job needs an output of its own"
        case .sameOutputInJob(let path):
            return "output '\(path)' is the same file as another output of its job; give each output a file of its own"
        case .outputIsReadByJob(let path, let other, let role):
            return "output '\(path)' is the \(role) of \(other): writing it would destroy that \(role); name another file"
        case .outputIsBatchFile(let path, let file, let role):
            return "output '\(path)' is \(role) '\(file)': writing it would destroy it; name another file"
        case .noAudioFiles(let folders):
            return "no audio files in \(folders.joined(separator: ", "))"
        case .invalidSetting(let path, let line, let field, let error):
            return "\(path):\(line): \(field): \(error)".printable
        }
    }
}
