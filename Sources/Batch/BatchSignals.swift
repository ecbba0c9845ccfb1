import Foundation

/// SIGINT, SIGTERM and SIGHUP end a batch at once: the output being written is removed (its
/// temporary file; nothing appears under its name), and the process exits 128 + the signal.
/// The journal holds every job that ended; a rerun does what is left.
public enum BatchSignals {
    nonisolated(unsafe) private static var stagedPath: UnsafeMutablePointer<CChar>?

    /// Names the temporary file to remove if a signal comes (nil: none).
    public static func stage(_ path: String?) {
        let old = stagedPath
        stagedPath = path.map { strdup($0) }
        free(old)
    }

    public static func install() {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                // Only async-signal-safe work here: unlink, _exit.
                if let staged = BatchSignals.stagedPath { unlink(staged) }
                _exit(128 + number)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(number, &action, nil)
        }
    }
}
