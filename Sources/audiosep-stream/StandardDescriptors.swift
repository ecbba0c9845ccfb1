import Foundation

/// Descriptors 0, 1 and 2, made sure to be open before the tool creates any of its own.
///
/// A process started with one of them closed (`audiosep-stream … <&-`) would otherwise hand that
/// number to the first descriptor it opens (the signal self-pipe, a model file), then read its
/// own pipe as the input or write audio into a model. As daemons do, each closed one is opened
/// on /dev/null: stdin then reads as empty input; stdout is opened read-only, so that nothing is
/// silently written to /dev/null (a write fails), and the commands that write it refuse to run
/// (`refuseClosedOutput`); stderr's lines are lost, the exit status still tells.
enum StandardDescriptors {
    /// The descriptors that were closed when the process started.
    private(set) static var closedAtStart: Set<Int32> = []

    /// Opens /dev/null on each of 0, 1, 2 that is closed. Call first thing in main.
    static func openClosed() {
        for descriptor: Int32 in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] {
            guard fcntl(descriptor, F_GETFD) == -1, errno == EBADF else { continue }
            closedAtStart.insert(descriptor)
            let opened = open("/dev/null", descriptor == STDERR_FILENO ? O_WRONLY : O_RDONLY)
            // The lowest free number is this one (the ones below are open by now); if not, move it.
            if opened >= 0, opened != descriptor {
                dup2(opened, descriptor)
                close(opened)
            }
        }
    }

    /// Whether stdout was closed when the process started.
    static var outputWasClosed: Bool { closedAtStart.contains(STDOUT_FILENO) }

    /// The error for a command that writes `what` on a stdout that was closed.
    static func closedOutput(_ what: String, hint: String) -> UsageError {
        UsageError("standard output is closed (started with >&-): nowhere to write \(what); \(hint)")
    }
}
