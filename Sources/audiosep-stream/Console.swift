import Foundation
import Stream

/// Text for the user on stderr and results on stdout, through the same `OutputFile` the audio
/// goes through (write(2) until done), failures ignored: when whoever reads stderr goes away
/// (`2>&1 | head`), the run must go on and its output stay whole; FileHandle.write would trap
/// on EPIPE instead.
enum Console {
    private static let standardError = OutputFile(fd: STDERR_FILENO)
    private static let standardOutput = OutputFile(fd: STDOUT_FILENO)

    static func error(_ text: String) { try? standardError.write(Array(text.utf8)) }

    /// Results on stdout; a reader that closed the pipe early just gets less.
    static func output(_ text: String) { try? standardOutput.write(Array(text.utf8)) }
    static func output(_ bytes: [UInt8]) { try? standardOutput.write(bytes) }

    /// A line a host waits for: throws `StreamError.outputClosed` when the host has gone.
    static func answer(_ line: String) throws { try standardOutput.write(Array((line + "\n").utf8)) }
}
