import Foundation
import Stream
import XCTest

/// A one-channel stream written to every channel of a wider sink.
final class DuplicatingSinkTests: XCTestCase {
    final class Recorder: AudioSink {
        var blocks: [[[Float]]] = []
        var finished = false
        func write(_ planar: [[Float]]) throws { blocks.append(planar) }
        func finish() throws { finished = true }
        var clampedSamples: Int { 7 }
    }

    func testMonoBlocksAreCopiedToEveryChannelAndWiderOnesPassThrough() throws {
        let recorder = Recorder()
        let sink = try DuplicatingSink(recorder, channelCount: 2)
        try sink.write([[0.1, -0.2, 0.3]])
        try sink.write([[1, 2], [3, 4]])
        try sink.finish()
        XCTAssertEqual(recorder.blocks, [[[0.1, -0.2, 0.3], [0.1, -0.2, 0.3]], [[1, 2], [3, 4]]])
        XCTAssertTrue(recorder.finished)
        XCTAssertEqual(sink.clampedSamples, 7, "the wrapped sink's count")
        XCTAssertThrowsError(try DuplicatingSink(recorder, channelCount: 0))
    }

    func testAMonoStreamBecomesAStereoWAV() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dup-\(UUID().uuidString).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let wav = try WAVSink(output: try OutputFile(path: path), sampleRate: 44_100, channelCount: 2,
                              format: try SampleFormat(encoding: .signedInteger, bits: 16))
        let sink = try DuplicatingSink(wav, channelCount: 2)
        let samples = (0..<1_000).map { Float($0 % 100) / 200 }
        try sink.write([samples])
        try sink.finish()
        let source = try SndfileSource(.path(path))
        XCTAssertEqual(source.description.channelCount, 2)
        XCTAssertEqual(source.description.knownFrames, 1_000)
        let block = try source.read(maxFrames: 2_000)
        XCTAssertEqual(block[0], block[1])
        XCTAssertEqual(block[0][50], 0.25, accuracy: 1.0 / 32_768)
    }
}
