/// Errors of the Overlap module. Each carries the offending value.
public enum OverlapError: Error, Equatable, CustomStringConvertible {
    /// The chunk must hold at least one frame.
    case chunkTooShort(frames: Int)
    /// The overlap must be ≥ 0 and at most half the chunk, so that at most two windows meet at any frame.
    case overlapOutOfRange(overlapFrames: Int, chunkFrames: Int)
    /// Windows must reach the cross-fader in order, with the frame count the chunker gave them.
    case unexpectedWindow(index: Int, expected: Int)
    case channelCountMismatch(got: Int, expected: Int)

    public var description: String {
        switch self {
        case .chunkTooShort(let frames):
            return "chunk length must be at least 1 frame, got \(frames)"
        case .overlapOutOfRange(let overlap, let chunk):
            return "overlap must be between 0 and half the chunk (\(chunk / 2) frames), got \(overlap) frames"
        case .unexpectedWindow(let index, let expected):
            return "window \(index) arrived where window \(expected) was expected"
        case .channelCountMismatch(let got, let expected):
            return "block has \(got) channels, expected \(expected)"
        }
    }
}
