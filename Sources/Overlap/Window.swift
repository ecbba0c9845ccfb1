/// One analysis window: `frames` consecutive frames of every channel, planar.
///
/// Window `index` starts at frame `index · hopFrames` of the stream. Counting is in
/// frames (one sample per channel) throughout this module.
public struct Window: Sendable {
    public let index: Int
    public let startFrame: Int
    /// One array per channel, each `frames` long.
    public var channels: [[Float]]

    public var frames: Int { channels.first?.count ?? 0 }

    public init(index: Int, startFrame: Int, channels: [[Float]]) {
        self.index = index
        self.startFrame = startFrame
        self.channels = channels
    }
}

/// The geometry shared by the chunker and the cross-fader.
public struct WindowLayout: Sendable, Equatable {
    public let chunkFrames: Int
    public let overlapFrames: Int
    public var hopFrames: Int { chunkFrames - overlapFrames }

    public init(chunkFrames: Int, overlapFrames: Int) throws {
        guard chunkFrames >= 1 else { throw OverlapError.chunkTooShort(frames: chunkFrames) }
        guard overlapFrames >= 0, overlapFrames * 2 <= chunkFrames else {
            throw OverlapError.overlapOutOfRange(overlapFrames: overlapFrames, chunkFrames: chunkFrames)
        }
        self.chunkFrames = chunkFrames
        self.overlapFrames = overlapFrames
    }
}
