import Glibc

/// Why a system or library call failed, kept as it came: an errno, or a C library's own message
/// (libsndfile's, libsamplerate's), so that a caller can still tell ENOSPC from EACCES.
public enum FailureCause: Error, Equatable, Sendable, CustomStringConvertible {
    case errno(Int32)
    case message(String)

    public var description: String {
        switch self {
        case .errno(let code): return String(cString: strerror(code))
        case .message(let text): return text
        }
    }
}
