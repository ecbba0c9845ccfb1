import Overlap
import XCTest

/// Property tests: whatever the geometry and block size, every frame is covered, nothing is
/// padded, and an engine that returns its window unchanged reproduces the input.
final class ChunkerCrossFadeTests: XCTestCase {
    /// Deterministic pseudo-random signal so failures are reproducible.
    func signal(frames: Int, channels: Int, seed: UInt64) -> [[Float]] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        return (0..<channels).map { _ in
            (0..<frames).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: state >> 11) % 20_000) / 20_000
            }
        }
    }

    /// Runs chunker → engine → cross-fader with blocks of the given sizes (cycled).
    func run(_ input: [[Float]], layout: WindowLayout, blocks: [Int], shape: FadeShape = .raisedCosine,
             engine: ([Float]) -> [Float] = { $0 }) throws -> (output: [[Float]], windows: [Window]) {
        let channels = input.count
        var chunker = Chunker(layout: layout, channelCount: channels)
        var fader = CrossFader(layout: layout, channelCount: channels, shape: shape)
        var output = [[Float]](repeating: [], count: channels)
        var seen: [Window] = []
        func consume(_ windows: [Window]) throws {
            for var window in windows {
                seen.append(window)
                window.channels = window.channels.map(engine)
                let done = try fader.add(window)
                for channel in 0..<channels { output[channel] += done[channel] }
            }
        }
        var position = 0, blockIndex = 0
        let total = input.first?.count ?? 0
        while position < total {
            let size = min(blocks[blockIndex % blocks.count], total - position)
            blockIndex += 1
            try consume(try chunker.push(input.map { Array($0[position..<(position + size)]) }))
            position += size
        }
        try consume(chunker.finish())
        let tail = fader.finish()
        for channel in 0..<channels { output[channel] += tail[channel] }
        return (output, seen)
    }

    func testIdentityReproducesInputForEveryGeometryAndBlockSize() throws {
        let geometries = [(1, 0), (2, 1), (7, 3), (100, 0), (100, 10), (100, 50), (1000, 333), (4096, 1024)]
        let lengths = [0, 1, 6, 99, 100, 101, 190, 191, 1000, 5003]
        let blockPatterns = [[1], [3], [64], [4096], [17, 1, 250, 2]]
        for (chunk, overlap) in geometries {
            let layout = try WindowLayout(chunkFrames: chunk, overlapFrames: overlap)
            for length in lengths {
                let input = signal(frames: length, channels: 2, seed: UInt64(length * 31 + chunk))
                for blocks in blockPatterns {
                    for shape in FadeShape.allCases {
                        let (output, _) = try run(input, layout: layout, blocks: blocks, shape: shape)
                        XCTAssertEqual(output[0].count, length, "length, chunk \(chunk)/\(overlap) blocks \(blocks)")
                        for channel in 0..<2 {
                            let error = zip(output[channel], input[channel]).map { abs($0 - $1) }.max() ?? 0
                            XCTAssertLessThanOrEqual(error, 1e-6, "chunk \(chunk)/\(overlap) length \(length) blocks \(blocks)")
                        }
                    }
                }
            }
        }
    }

    func testWindowsCoverTheStreamWithoutPaddingAndIndependentOfBlockSize() throws {
        let layout = try WindowLayout(chunkFrames: 100, overlapFrames: 20)
        for length in [1, 20, 99, 100, 101, 180, 181, 260, 261, 999] {
            let input = signal(frames: length, channels: 1, seed: 7)
            let reference = try run(input, layout: layout, blocks: [length]).windows
            for blocks in [[1], [7], [33, 2]] {
                let windows = try run(input, layout: layout, blocks: blocks).windows
                XCTAssertEqual(windows.map(\.startFrame), reference.map(\.startFrame))
                XCTAssertEqual(windows.map(\.channels), reference.map(\.channels))
            }
            XCTAssertEqual(reference.first?.startFrame, 0)
            for (index, window) in reference.enumerated() {
                XCTAssertEqual(window.index, index)
                XCTAssertEqual(window.startFrame, index * 80)
                XCTAssertEqual(window.channels[0], Array(input[0][window.startFrame..<(window.startFrame + window.frames)]))
                if index + 1 < reference.count { XCTAssertEqual(window.frames, 100) }
            }
            let last = try XCTUnwrap(reference.last)
            XCTAssertEqual(last.startFrame + last.frames, length, "the last window ends at the stream's end")
            if reference.count > 1 { XCTAssertGreaterThan(last.frames, 20, "a short last window still spans the overlap") }
            // No window is redundant: each one reaches past the end of the one before it.
            for pair in zip(reference, reference.dropFirst()) {
                XCTAssertGreaterThan(pair.1.startFrame + pair.1.frames, pair.0.startFrame + pair.0.frames)
            }
        }
    }

    func testFadeWeightsSumToOneAndAreMonotonic() {
        for shape in FadeShape.allCases {
            for overlap in [1, 2, 5, 32000] {
                let weights = shape.outgoingWeights(overlapFrames: overlap)
                XCTAssertEqual(weights.count, overlap)
                for (w, mirror) in zip(weights, weights.reversed()) {
                    XCTAssertEqual(w + mirror, 1, accuracy: 1e-6, "symmetric fade: w(t) + w(O−1−t) = 1")
                }
                XCTAssertTrue(zip(weights, weights.dropFirst()).allSatisfy { $0 >= $1 }, "\(shape) fades out")
                XCTAssertTrue(weights.allSatisfy { $0 >= 0 && $0 <= 1 })
            }
        }
    }

    func testCrossFadeBlendsWithTheWeights() throws {
        // Window k is scaled by (k+1): in an overlap the output must be w·k' + (1−w)·(k'+1) times the input.
        let layout = try WindowLayout(chunkFrames: 10, overlapFrames: 4)
        var fader = CrossFader(layout: layout, channelCount: 1, shape: .linear)
        let weights = FadeShape.linear.outgoingWeights(overlapFrames: 4)
        let first = try fader.add(Window(index: 0, startFrame: 0, channels: [[Float](repeating: 1, count: 10)]))
        XCTAssertEqual(first[0], [Float](repeating: 1, count: 6))
        let second = try fader.add(Window(index: 1, startFrame: 6, channels: [[Float](repeating: 2, count: 10)]))
        XCTAssertEqual(second[0].count, 6)
        for frame in 0..<4 { XCTAssertEqual(second[0][frame], weights[frame] * 1 + (1 - weights[frame]) * 2, accuracy: 1e-6) }
        XCTAssertEqual(Array(second[0][4...]), [2, 2])
        XCTAssertEqual(fader.finish()[0], [2, 2, 2, 2])
    }

    func testLinearEngineStaysLinearThroughTheCrossFade() throws {
        let layout = try WindowLayout(chunkFrames: 64, overlapFrames: 16)
        let input = signal(frames: 1000, channels: 1, seed: 3)
        let (output, _) = try run(input, layout: layout, blocks: [50]) { $0.map { $0 * -0.5 } }
        for (out, original) in zip(output[0], input[0]) { XCTAssertEqual(out, -0.5 * original, accuracy: 1e-6) }
    }

    func testInvalidGeometriesAndOrderAreRejected() throws {
        XCTAssertThrowsError(try WindowLayout(chunkFrames: 0, overlapFrames: 0)) {
            XCTAssertEqual($0 as? OverlapError, .chunkTooShort(frames: 0))
        }
        XCTAssertThrowsError(try WindowLayout(chunkFrames: 10, overlapFrames: 6)) {
            XCTAssertEqual($0 as? OverlapError, .overlapOutOfRange(overlapFrames: 6, chunkFrames: 10))
        }
        XCTAssertThrowsError(try WindowLayout(chunkFrames: 10, overlapFrames: -1))
        let layout = try WindowLayout(chunkFrames: 10, overlapFrames: 2)
        var fader = CrossFader(layout: layout, channelCount: 1)
        XCTAssertThrowsError(try fader.add(Window(index: 1, startFrame: 8, channels: [[0]]))) {
            XCTAssertEqual($0 as? OverlapError, .unexpectedWindow(index: 1, expected: 0))
        }
        var chunker = Chunker(layout: layout, channelCount: 2)
        XCTAssertThrowsError(try chunker.push([[1]])) {
            XCTAssertEqual($0 as? OverlapError, .channelCountMismatch(got: 1, expected: 2))
        }
    }
}
