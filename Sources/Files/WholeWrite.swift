import Glibc

/// A system call that failed, with its errno, for the caller to name the file it was writing.
public struct SystemCallFailure: Error, Equatable {
    public let call: String
    public let errno: Int32
}

public enum WholeWrite {
    /// Writes all of `bytes` to `descriptor`: short writes continue where they stopped, writes
    /// a signal interrupted (EINTR) are retried. `progress` hears each part that was written, so
    /// the caller can count what reached the file also when a later part fails (a full disk).
    /// Throws `SystemCallFailure` for `write` with its errno.
    public static func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer,
                             progress: (Int) -> Void = { _ in }) throws {
        var done = 0
        while done < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if written < 0 {
                if errno == EINTR { continue }
                throw SystemCallFailure(call: "write", errno: errno)
            }
            done += written
            progress(written)
        }
    }
}
