import Synchronization

/// The input's frames at its own rate, kept from the reader thread until the writer has made
/// the output frames they account for (`--remove`: the rest is the input minus the separated
/// source, both at the input's rate). The reader runs at most a few windows ahead of the writer,
/// so this holds a few windows of input, whatever the input's length.
final class InputHistory: Sendable {
    private struct Blocks {
        var blocks: [[[Float]]] = []
        /// Frames of `blocks[0]` already taken.
        var offset = 0
    }

    private let state = Mutex(Blocks())
    let channelCount: Int

    init(channelCount: Int) { self.channelCount = channelCount }

    /// Appends a planar block (the reader's thread).
    func append(_ planar: [[Float]]) {
        guard let frames = planar.first?.count, frames > 0 else { return }
        state.withLock { $0.blocks.append(planar) }
    }

    /// Removes and returns the oldest `frames` frames, planar; fewer only when fewer were appended.
    func take(_ frames: Int) -> [[Float]] {
        state.withLock { state in
            var taken = Array(repeating: [Float](), count: channelCount)
            for channel in taken.indices { taken[channel].reserveCapacity(frames) }
            var wanted = frames
            while wanted > 0, let first = state.blocks.first {
                let available = first[0].count - state.offset
                let count = min(available, wanted)
                for channel in taken.indices {
                    taken[channel].append(contentsOf: first[channel][state.offset..<(state.offset + count)])
                }
                wanted -= count
                if count == available {
                    state.blocks.removeFirst()
                    state.offset = 0
                } else {
                    state.offset += count
                }
            }
            return taken
        }
    }
}
