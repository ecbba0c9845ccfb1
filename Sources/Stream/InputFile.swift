import Files
import Foundation

/// An input named by a path, opened once: its identity comes from the open descriptor (fstat),
/// and the decoder reads that same descriptor. A FIFO can be opened only once per writer (a
/// second open after the writer has gone blocks for ever), and a name can be swapped for another
/// file between two opens; opening once avoids both.
public final class InputFile: Sendable, Equatable {
    /// The name the input was given by.
    public let path: String
    /// The open descriptor (read-only, close-on-exec), closed when this object goes.
    public let fd: Int32
    /// The file the descriptor refers to.
    public let identity: FileIdentity
    /// The byte count of a regular file when it was opened (0 for anything else).
    public let size: Int64

    /// Opens `path` for reading. On a FIFO this waits for a writer, as any reader does; a stop
    /// signal that interrupts the wait ends it (`EINTR`).
    /// - Throws: `StreamError.cannotOpen` naming the path and the system's reason.
    public init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StreamError.cannotOpen(path: path, cause: .errno(errno)) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            throw StreamError.cannotOpen(path: path, cause: .errno(code))
        }
        self.path = path
        self.fd = descriptor
        self.identity = FileIdentity(status)
        self.size = (status.st_mode & S_IFMT) == S_IFREG ? Int64(status.st_size) : 0
    }

    deinit { close(fd) }

    public static func == (left: InputFile, right: InputFile) -> Bool { left === right }
}
