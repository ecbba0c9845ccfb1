import Foundation

/// Runs C code that writes its own notes to stderr with file descriptor 2 on /dev/null.
///
/// libsndfile decodes MPEG audio with libmpg123, which prints "Note: Illegal Audio-MPEG-Header…"
/// and resync notes for every damaged frame (and while libsndfile probes garbage that happens
/// to look like one), and libsndfile offers no way to quiet it. Our errors are one line each,
/// printed by the executable once the threads are done, so they are never inside a silenced
/// call; a progress report written meanwhile from another thread is lost, the next one is not.
enum QuietStderr {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var depth = 0
    nonisolated(unsafe) private static var saved: Int32 = -1

    static func run<Result>(_ body: () throws -> Result) rethrows -> Result {
        enter()
        defer { leave() }
        return try body()
    }

    private static func enter() {
        lock.lock(); defer { lock.unlock() }
        depth += 1
        guard depth == 1 else { return }
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard null >= 0 else { return }
        saved = dup(STDERR_FILENO)
        if saved >= 0 { dup2(null, STDERR_FILENO) }
        close(null)
    }

    private static func leave() {
        lock.lock(); defer { lock.unlock() }
        depth -= 1
        guard depth == 0, saved >= 0 else { return }
        dup2(saved, STDERR_FILENO)
        close(saved)
        saved = -1
    }
}
