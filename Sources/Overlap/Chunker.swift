/// Cuts a stream into windows of `chunkFrames` frames every `hopFrames` frames.
///
/// A streaming processor: `push` takes whatever has arrived and returns the windows that
/// are now complete; `finish` is called once at end of input and returns the last, possibly
/// short, window. The first window starts at frame 0; a window is emitted only if it covers
/// frames no earlier window did, so nothing is padded. The last window, when short, is still
/// longer than the overlap, so every overlap the cross-fader sees is complete.
///
/// Memory: at most `chunkFrames` frames per channel plus the block being pushed.
public struct Chunker: Sendable {
    public let layout: WindowLayout
    public let channelCount: Int

    /// Frames not yet released, starting at absolute frame `pendingStart`.
    private var pending: [[Float]]
    private var pendingStart = 0
    private var nextIndex = 0
    private var totalFrames = 0

    /// - Parameter reservingFrames: frames to reserve per channel up front (default, and at
    ///   most, a window's): less when the input is known to be shorter than a window.
    public init(layout: WindowLayout, channelCount: Int, reservingFrames: Int? = nil) {
        self.layout = layout
        self.channelCount = channelCount
        self.pending = Array(repeating: [], count: channelCount)
        let reserved = max(0, min(layout.chunkFrames, reservingFrames ?? layout.chunkFrames))
        for channel in 0..<channelCount { pending[channel].reserveCapacity(reserved) }
    }

    /// Appends a planar block (one array per channel, equal lengths) and returns completed windows.
    public mutating func push(_ block: [[Float]]) throws -> [Window] {
        guard block.count == channelCount else {
            throw OverlapError.channelCountMismatch(got: block.count, expected: channelCount)
        }
        let blockFrames = block.first?.count ?? 0
        if blockFrames == 0 { return [] }
        for channel in 0..<channelCount { pending[channel].append(contentsOf: block[channel]) }
        totalFrames += blockFrames

        var windows: [Window] = []
        while totalFrames >= windowStart(nextIndex) + layout.chunkFrames {
            windows.append(takeWindow(frames: layout.chunkFrames))
        }
        return windows
    }

    /// Ends the input and returns the final short window, if the stream has frames no window covered.
    public mutating func finish() -> [Window] {
        let uncovered: Bool
        if nextIndex == 0 {
            uncovered = totalFrames > 0
        } else {
            uncovered = totalFrames > windowStart(nextIndex - 1) + layout.chunkFrames
        }
        guard uncovered else { return [] }
        return [takeWindow(frames: totalFrames - windowStart(nextIndex))]
    }

    private func windowStart(_ index: Int) -> Int { index * layout.hopFrames }

    private mutating func takeWindow(frames: Int) -> Window {
        let start = windowStart(nextIndex)
        let offset = start - pendingStart
        let channels = pending.map { Array($0[offset..<(offset + frames)]) }
        let window = Window(index: nextIndex, startFrame: start, channels: channels)
        nextIndex += 1
        // Release everything before the next window's start.
        let release = min(windowStart(nextIndex) - pendingStart, pending.first?.count ?? 0)
        if release > 0 {
            for channel in 0..<channelCount { pending[channel].removeFirst(release) }
            pendingStart += release
        }
        return window
    }
}
