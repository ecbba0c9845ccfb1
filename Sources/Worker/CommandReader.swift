import Foundation
import Stream

/// Reads the worker's command lines from a descriptor in pieces of bounded size, so memory
/// stays bounded whatever arrives: a line longer than the cap is reported once, as soon as the
/// cap is passed, and its remaining bytes are skipped up to its newline without being kept.
public final class CommandReader {
    /// The longest command line taken, newline excluded.
    public static let maxLineBytes = 1 << 20

    public enum Event: Equatable {
        case line(String)
        /// A line passed `maxLineBytes`; the next event comes after its newline.
        case tooLong
        /// `shouldStop` became true while waiting for input.
        case stopped
        case end
    }

    private let descriptor: Int32
    private let maxLineBytes: Int
    private let shouldStop: () -> Bool
    private var piece: [UInt8]
    private var start = 0, end = 0
    /// The current line's bytes so far, at most `maxLineBytes` plus one piece.
    private var pending: [UInt8] = []
    /// True between a line found too long and its newline.
    private var skipping = false

    /// - Parameter shouldStop: asked before every read and after a read interrupted by a signal (EINTR).
    public init(descriptor: Int32, maxLineBytes: Int = CommandReader.maxLineBytes, pieceBytes: Int = 64 * 1024,
                shouldStop: @escaping () -> Bool = { false }) {
        self.descriptor = descriptor
        self.maxLineBytes = maxLineBytes
        self.shouldStop = shouldStop
        piece = [UInt8](repeating: 0, count: max(1, pieceBytes))
    }

    /// The next line (without its newline), an over-long one reported, a stop, or the end of input.
    /// A last line without a newline still counts, as with readLine.
    /// - Throws: `StreamError.readFailed` when the descriptor cannot be read.
    public func next() throws -> Event {
        while true {
            if start < end {
                let newline = piece[start..<end].firstIndex(of: UInt8(ascii: "\n"))
                let stop = newline ?? end
                let wasSkipping = skipping
                if !skipping { pending.append(contentsOf: piece[start..<stop]) }
                start = newline.map { $0 + 1 } ?? end
                if newline != nil { skipping = false }
                if wasSkipping { continue }
                if pending.count > maxLineBytes {
                    pending = []  // a new array: the old one's storage goes now
                    skipping = newline == nil
                    return .tooLong
                }
                if newline != nil { return .line(takeLine()) }
                continue
            }
            if shouldStop() { return .stopped }
            let count = piece.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw StreamError.readFailed(.errno(errno))
            }
            if count == 0 {
                guard !skipping, !pending.isEmpty else { return .end }
                return .line(takeLine())
            }
            start = 0
            end = count
        }
    }

    private func takeLine() -> String {
        let line = String(decoding: pending, as: UTF8.self)
        pending.removeAll(keepingCapacity: true)
        return line
    }
}
