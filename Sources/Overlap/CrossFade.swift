import Foundation

/// The shape of the cross-fade in each overlap.
public enum FadeShape: String, Sendable, CaseIterable {
    /// w(t) = ½(1 + cos(π(t + ½)/O)): smooth at both ends.
    case raisedCosine = "raised-cosine"
    /// w(t) = 1 − (t + ½)/O.
    case linear

    /// Weights of the outgoing window at each of the `overlapFrames` overlap frames;
    /// the incoming window gets 1 − w(t), so the two always sum to 1.
    public func outgoingWeights(overlapFrames: Int) -> [Float] {
        (0..<overlapFrames).map { frame in
            let position = (Double(frame) + 0.5) / Double(overlapFrames)
            switch self {
            case .raisedCosine: return Float(0.5 * (1 + cos(Double.pi * position)))
            case .linear: return Float(1 - position)
            }
        }
    }
}

/// Joins processed windows back into one stream, cross-fading each overlap.
///
/// Fed the chunker's windows in order (after processing, same lengths), it returns the
/// frames that are final: window k releases [k·hop, (k+1)·hop) and keeps its last
/// `overlapFrames` frames to blend with window k+1. `finish` releases the kept tail.
/// With an engine that returns its window unchanged, the output equals the input.
public struct CrossFader: Sendable {
    public let layout: WindowLayout
    public let channelCount: Int
    private let outgoing: [Float]
    private var tail: [[Float]]
    private var expectedIndex = 0

    public init(layout: WindowLayout, channelCount: Int, shape: FadeShape = .raisedCosine) {
        self.layout = layout
        self.channelCount = channelCount
        self.outgoing = shape.outgoingWeights(overlapFrames: layout.overlapFrames)
        self.tail = Array(repeating: [], count: channelCount)
    }

    /// Adds the next processed window and returns the frames it makes final (planar).
    public mutating func add(_ window: Window) throws -> [[Float]] {
        guard window.index == expectedIndex else {
            throw OverlapError.unexpectedWindow(index: window.index, expected: expectedIndex)
        }
        guard window.channels.count == channelCount else {
            throw OverlapError.channelCountMismatch(got: window.channels.count, expected: channelCount)
        }
        expectedIndex += 1
        let frames = window.frames
        let hop = layout.hopFrames
        var released: [[Float]] = []
        released.reserveCapacity(channelCount)
        for channel in 0..<channelCount {
            let samples = window.channels[channel]
            var out = [Float]()
            out.reserveCapacity(min(frames, hop))
            let previous = tail[channel]
            // Blend the overlap with the previous window's tail (absent for the first window).
            let blendFrames = min(previous.count, frames)
            for frame in 0..<blendFrames {
                let w = outgoing[frame]
                // w·previous + (1 − w)·incoming, written so that two equal windows give their
                // samples back exactly (the identity engine returns its input bit for bit).
                out.append(samples[frame] + w * (previous[frame] - samples[frame]))
            }
            let ownEnd = min(hop, frames)
            if ownEnd > blendFrames { out.append(contentsOf: samples[blendFrames..<ownEnd]) }
            tail[channel] = frames > hop ? Array(samples[hop..<frames]) : []
            released.append(out)
        }
        return released
    }

    /// Ends the stream: returns the tail of the last window.
    public mutating func finish() -> [[Float]] {
        let rest = tail
        tail = Array(repeating: [], count: channelCount)
        return rest
    }
}
