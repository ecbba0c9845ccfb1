import Foundation
import Stream

/// A request that cannot be run as it stands, said before any audio is read or any output made.
public enum RunError: Error, Equatable, CustomStringConvertible {
    /// The named input is a folder.
    case inputIsFolder(path: String)
    /// Descriptor 1 is the input file itself (`< f.wav >> f.wav`, or `-i f.wav > f.wav`).
    case standardOutputIsInput(input: String)
    /// Two outputs of one run name the same file.
    case duplicateOutput(path: String)
    /// More than one output would go to descriptor 1, which holds one stream.
    case severalToStandardOutput(count: Int)

    public var description: String {
        switch self {
        case .inputIsFolder(let path):
            return "input '\(path)' is a folder; name an audio file"
        case .standardOutputIsInput(let input):
            return "standard output is the input file \(input): writing it would destroy the input; write to another file"
        case .duplicateOutput(let path):
            return "two outputs name '\(path)'; give each its own file"
        case .severalToStandardOutput(let count):
            return "\(count) outputs would go to standard output, which holds one stream; name files for them "
                + "(-o 'out/{query}.wav', --stem QUERY=FILE, --rest FILE)"
        }
    }
}
