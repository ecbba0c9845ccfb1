/// Errors of the Stream module. Each names the problem and carries the offending value.
public enum StreamError: Error, Equatable, CustomStringConvertible {
    case emptyInput
    case unreadableHeader(reason: String)
    case cannotOpen(path: String, reason: String)
    case rawFormatIncomplete(missing: [String])
    case unsupportedSampleFormat(encoding: String, bits: Int)
    case unsupportedInWAV(encoding: String, bits: Int)
    case invalidRate(hz: Int)
    case invalidChannels(count: Int)
    case readFailed(reason: String)
    case writeFailed(reason: String)
    /// The downstream reader closed the pipe; not a failure of ours.
    case outputClosed
    case resamplerFailed(reason: String)
    case invalidValue(name: String, value: String)
    /// The output named is a folder.
    case outputIsDirectory(path: String)
    /// The output named is the input file itself (by device and inode: also through links).
    case outputIsInput(path: String)
    /// The output's folder does not exist.
    case outputFolderMissing(path: String, folder: String)

    public var description: String {
        switch self {
        case .emptyInput:
            return "input is empty: no header and no samples arrived"
        case .unreadableHeader(let reason):
            return "cannot read the input's header (\(reason)); for headerless PCM give -t raw -r HZ -c N -b BITS -e ENCODING"
        case .cannotOpen(let path, let reason):
            return "cannot open '\(path)': \(reason)"
        case .rawFormatIncomplete(let missing):
            return "raw input needs \(missing.joined(separator: ", ")) (as with sox: -t raw -r 48000 -c 2 -b 16 -e signed-integer)"
        case .unsupportedSampleFormat(let encoding, let bits):
            return "unsupported sample format: \(bits)-bit \(encoding) (integers: 8, 16, 24, 32 bits; floating-point: 32, 64 bits)"
        case .unsupportedInWAV(let encoding, let bits):
            return "WAV cannot hold \(bits)-bit \(encoding) samples (8-bit is unsigned, wider integers are signed)"
        case .invalidRate(let hz):
            return "invalid sample rate \(hz) hz"
        case .invalidChannels(let count):
            return "invalid channel count \(count) (1 to 1024)"
        case .readFailed(let reason):
            return "reading input failed: \(reason)"
        case .writeFailed(let reason):
            return "writing output failed: \(reason)"
        case .outputClosed:
            return "the output pipe was closed by its reader"
        case .resamplerFailed(let reason):
            return "resampler failed: \(reason)"
        case .invalidValue(let name, let value):
            return "invalid \(name) '\(value)'"
        case .outputIsDirectory(let path):
            return "output '\(path)' is a folder; name a file in it"
        case .outputIsInput(let path):
            return "output '\(path)' is the input file: writing it would destroy the input; name another file"
        case .outputFolderMissing(let path, let folder):
            return "cannot write '\(path)': folder '\(folder)' does not exist"
        }
    }
}
