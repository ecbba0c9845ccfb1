import Foundation

/// Text for the user on stderr. Written with write(2) and failures ignored: when whoever reads
/// stderr goes away (`2>&1 | head`), the run must go on and its output stay whole;
/// FileHandle.write would trap on EPIPE instead.
enum Console {
    static func error(_ text: String) { send(Array(text.utf8), to: STDERR_FILENO) }

    /// Results on stdout; a reader that closed the pipe early just gets less.
    static func output(_ text: String) { send(Array(text.utf8), to: STDOUT_FILENO) }
    static func output(_ bytes: [UInt8]) { send(bytes, to: STDOUT_FILENO) }

    /// write(2) until done; false (errno set) when the descriptor refuses.
    @discardableResult
    static func send(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if written < 0, errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }
}
