import Files
import Foundation

/// Writes bytes to a file descriptor (stdout or a file), whole or not at all.
///
/// A closed pipe downstream becomes `StreamError.outputClosed` (SIGPIPE is ignored by the
/// executable so that it can stop cleanly); any other failure, such as a full disk, is
/// `StreamError.writeFailed` naming the system's reason.
public final class OutputFile {
    public let fd: Int32
    private let ownsDescriptor: Bool
    /// True when the descriptor is a regular file we can seek in, so a header can be patched.
    public let isSeekableFile: Bool
    /// Byte offset at which this writer started (non-zero when stdout is appended to).
    public let startOffset: Int64

    public init(fd: Int32) {
        self.fd = fd
        self.ownsDescriptor = false
        var status = stat()
        let regular = fstat(fd, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
        let offset = regular ? lseek(fd, 0, SEEK_CUR) : -1
        self.isSeekableFile = regular && offset >= 0
        self.startOffset = max(0, Int64(offset))
    }

    public init(path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw StreamError.cannotOpen(path: path, cause: .errno(errno)) }
        self.fd = descriptor
        self.ownsDescriptor = true
        self.isSeekableFile = true
        self.startOffset = 0
    }

    /// Writes to `descriptor`, which this object closes (a file `StagedOutput` opened).
    init(adopting descriptor: Int32) {
        self.fd = descriptor
        self.ownsDescriptor = true
        var status = stat()
        self.isSeekableFile = fstat(descriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
        self.startOffset = 0
    }

    deinit { if ownsDescriptor { close(fd) } }

    /// Bytes written through `write` so far, counting those of a write that failed part-way
    /// (a full disk): what the file holds past `startOffset`.
    public private(set) var bytesWritten: Int64 = 0

    public func write(_ bytes: [UInt8]) throws {
        do {
            try bytes.withUnsafeBytes { try WholeWrite.write(fd, $0) { bytesWritten += Int64($0) } }
        } catch let failure as SystemCallFailure {
            throw Self.error(failure.errno)
        }
    }

    /// Overwrites bytes at `offset` (relative to where this writer started) without moving on.
    public func patch(_ bytes: [UInt8], at offset: Int64) throws {
        let result = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(startOffset + offset)) }
        if result != bytes.count { throw Self.error(errno) }
    }

    static func error(_ code: Int32) -> StreamError {
        code == EPIPE ? .outputClosed : .writeFailed(.errno(code))
    }
}
