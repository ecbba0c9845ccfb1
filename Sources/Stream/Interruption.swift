import Foundation
import Synchronization

/// A request to stop reading input, made by a signal (SIGINT, SIGTERM) and seen by every read
/// loop: reads interrupted by it (EINTR) end the input there, so the pipeline finishes what is
/// already in flight and ends its output validly instead of dying mid-write.
public enum InputInterruption {
    private static let flag = Atomic<Bool>(false)

    public static var isRequested: Bool { flag.load(ordering: .acquiring) }

    /// Marks the request; the pipeline's reader sees it before its next read, or at once when a
    /// read it is blocked in is interrupted (see `Pipeline.interruptReader`).
    public static func request() { flag.store(true, ordering: .releasing) }

    /// For tests: forget an earlier request.
    public static func reset() { flag.store(false, ordering: .releasing) }

    /// SIGUSR2 interrupts a blocked read: a handler that does nothing, installed without
    /// SA_RESTART, so read(2) returns EINTR instead of resuming.
    public static let wakeSignal = SIGUSR2

    public static func installWakeHandler() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(wakeSignal, &action, nil)
    }
}
