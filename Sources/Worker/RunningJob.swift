import Foundation
import Stream
import Synchronization

/// The separation in progress, as seen from the thread a stop signal wakes: the pipeline whose
/// blocked read to interrupt, and the temporary output to remove when the process must end at once.
public final class RunningJob: Sendable {
    private struct State {
        var pipeline: Pipeline?
        var temporaryPath: String?
    }
    private let state = Mutex<State>(State())

    public init() {}

    func began(writing output: StagedOutput) {
        state.withLock { $0.temporaryPath = output.temporaryPath }
    }

    func attach(_ pipeline: Pipeline) {
        state.withLock { $0.pipeline = pipeline }
    }

    func ended() {
        state.withLock { $0 = State() }
    }

    /// Interrupts a read the running pipeline's reader is blocked in; false when no reader is
    /// running (none attached yet, or it has finished).
    public func interruptReader() -> Bool {
        state.withLock { $0.pipeline?.interruptReader() ?? false }
    }

    /// Removes the output being written, for a process about to end without finishing it.
    /// After a commit the name is gone already, so this removes nothing.
    public func removeTemporaryOutput() {
        state.withLock { state in
            if let path = state.temporaryPath { unlink(path) }
            state.temporaryPath = nil
        }
    }
}
