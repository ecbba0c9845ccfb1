import Foundation
import Stream
import Synchronization

/// The run in progress, as seen from the thread a stop signal wakes: the pipeline whose blocked
/// read to interrupt, and the temporary outputs to remove when the process must end at once.
/// A stop is requested through `cancellation` (the executable does so when a signal comes); the
/// run then ends the input where reading got to and settles its outputs as partial.
public final class RunControl: Sendable {
    private struct State {
        var pipeline: Pipeline?
        var temporaryPaths: [String] = []
        /// True once the run has ended: nothing is left to interrupt.
        var ended = false
    }
    private let state = Mutex<State>(State())
    /// Hears the temporary files being written, then [] once they are renamed or removed.
    private let staging: @Sendable ([String]) -> Void

    /// What the run's sources, pipeline and encoders watch for a stop.
    public let cancellation: Cancellation

    public init(cancellation: Cancellation = Cancellation(), staging: @escaping @Sendable ([String]) -> Void = { _ in }) {
        self.cancellation = cancellation
        self.staging = staging
    }

    /// Whether a stop was requested.
    public var isStopRequested: Bool { cancellation.isRequested }

    func began(writing paths: [String]) {
        state.withLock { $0 = State(temporaryPaths: paths) }
        staging(paths)
    }

    func attach(_ pipeline: Pipeline) {
        state.withLock { $0.pipeline = pipeline }
    }

    func ended() {
        state.withLock { $0 = State(ended: true) }
        staging([])
    }

    /// Interrupts a read the running pipeline's reader is blocked in: true when one may still be
    /// running, false once it has finished (or the run has ended), nil before the pipeline has
    /// started (the input's header is read on the calling thread until then).
    public func interruptReader() -> Bool? {
        state.withLock { state in
            if state.ended { return false }
            return state.pipeline?.interruptReader()
        }
    }

    /// Removes the outputs being written, for a process about to end without finishing them.
    /// After a commit the names are gone already, so this removes nothing.
    public func removeTemporaryOutputs() {
        state.withLock { state in
            for path in state.temporaryPaths { unlink(path) }
            state.temporaryPaths = []
        }
    }
}
