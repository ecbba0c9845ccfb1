import Foundation
import Synchronization

/// A request to stop reading input, passed to a run (`RunControl`) and seen by every read loop
/// of its sources and its pipeline: a read interrupted by it (EINTR) ends the input there, so the
/// pipeline finishes what is already in flight and ends its outputs validly instead of dying
/// mid-write. The executable makes one and requests it when a signal comes; nothing is global.
public final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public var isRequested: Bool { flag.load(ordering: .acquiring) }

    /// Marks the request; the pipeline's reader sees it before its next read, or at once when a
    /// read it is blocked in is interrupted (see `Pipeline.interruptReader`).
    public func request() { flag.store(true, ordering: .releasing) }
}

/// How a read blocked in another thread is interrupted for a `Cancellation`.
public enum InputInterruption {
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
