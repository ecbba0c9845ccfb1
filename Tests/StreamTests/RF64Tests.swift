import Foundation
@testable import Stream
import XCTest

/// WAV output past RIFF's 4 GiB: the threshold is lowered to a few kilobytes, so the RF64 header a
/// 4 GiB file would get is written, read back by libsndfile and checked field by field.
final class RF64Tests: XCTestCase {
    let format = try! SampleFormat(encoding: .signedInteger, bits: 16)

    func le32(_ bytes: [UInt8], _ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
    func le64(_ bytes: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) } }
    func text(_ bytes: [UInt8], _ at: Int) -> String { String(decoding: bytes[at..<(at + 4)], as: UTF8.self) }
    func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Writes `frames` of stereo tones in blocks of 500 through a sink whose limit is `limit` bytes.
    func write(_ path: String, frames: Int, limit: Int64, expectedFrames: Int? = nil,
               beforeFinish: (WAVSink) throws -> Void = { _ in }) throws -> [[Float]] {
        let signal = tones(frames: frames, rate: 8000, channels: 2)
        let sink = try WAVSink(output: try OutputFile(path: path), sampleRate: 8000, channelCount: 2, format: format,
                               expectedFrames: expectedFrames, sizeLimit: limit)
        var start = 0
        while start < frames {
            let end = min(frames, start + 500)
            try sink.write(signal.map { Array($0[start..<end]) })
            start = end
        }
        try beforeFinish(sink)
        try sink.finish()
        return signal
    }

    func assertReadsBack(_ path: String, _ signal: [[Float]], file: StaticString = #filePath, line: UInt = #line) throws {
        let source = try SndfileSource(.path(path))
        XCTAssertEqual(source.description.knownFrames, signal[0].count, "libsndfile's frame count", file: file, line: line)
        var decoded: [[Float]] = [[], []]
        while true {
            let block = try source.read(maxFrames: 4096)
            guard let count = block.first?.count, count > 0 else { break }
            for channel in 0..<2 { decoded[channel] += block[channel] }
        }
        XCTAssertEqual(decoded[0].count, signal[0].count, file: file, line: line)
        for channel in 0..<2 {
            let error = zip(decoded[channel], signal[channel]).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThanOrEqual(error, 0.5 / 32_768 + 1e-7, "channel \(channel)", file: file, line: line)
        }
    }

    /// Past the limit, the JUNK chunk becomes ds64 with the true 64-bit sizes; the 32-bit fields
    /// say 0xFFFFFFFF; libsndfile reads the frames and samples back.
    func testAFileThatPassesTheLimitIsRewrittenAsRF64() throws {
        let path = temporaryPath("rf64.wav")
        let signal = try write(path, frames: 3001, limit: 4000)
        let bytes = try read(path)
        let data = 3001 * 4
        XCTAssertEqual(bytes.count, 80 + data, "a 36-byte JUNK/ds64 chunk before the 44 bytes of a plain header")
        XCTAssertEqual(text(bytes, 0), "RF64")
        XCTAssertEqual(le32(bytes, 4), 0xFFFF_FFFF)
        XCTAssertEqual(text(bytes, 8), "WAVE")
        XCTAssertEqual(text(bytes, 12), "ds64")
        XCTAssertEqual(le32(bytes, 16), 28)
        XCTAssertEqual(le64(bytes, 20), UInt64(bytes.count - 8), "the RIFF size")
        XCTAssertEqual(le64(bytes, 28), UInt64(data), "the data size")
        XCTAssertEqual(le64(bytes, 36), 3001, "the sample count (frames)")
        XCTAssertEqual(le32(bytes, 44), 0, "no table")
        XCTAssertEqual(text(bytes, 48), "fmt ")
        XCTAssertEqual(text(bytes, 72), "data")
        XCTAssertEqual(le32(bytes, 76), 0xFFFF_FFFF)
        try assertReadsBack(path, signal)
    }

    /// Under the limit the reserved chunk stays JUNK and the sizes are RIFF's own: the file reads
    /// back; a file whose length is known to fit gets no JUNK (the plain 44-byte header).
    func testAFileUnderTheLimitKeepsRIFFSizes() throws {
        let path = temporaryPath("junk.wav")
        let signal = try write(path, frames: 900, limit: 4000)
        let bytes = try read(path)
        XCTAssertEqual(text(bytes, 0), "RIFF")
        XCTAssertEqual(le32(bytes, 4), UInt32(bytes.count - 8))
        XCTAssertEqual(text(bytes, 12), "JUNK")
        XCTAssertEqual(le32(bytes, 16), 28)
        XCTAssertEqual(le32(bytes, 76), 3600)
        try assertReadsBack(path, signal)

        let known = temporaryPath("known.wav")
        let same = try write(known, frames: 900, limit: 4000, expectedFrames: 900)
        let plain = try read(known)
        XCTAssertEqual(plain.count, 44 + 3600)
        XCTAssertEqual(text(plain, 12), "fmt ")
        XCTAssertEqual(le32(plain, 40), 3600)
        try assertReadsBack(known, same)
    }

    /// A length announced as fitting that is passed anyway: the write that would pass is refused,
    /// and the header says what the file holds (never a clamped size).
    func testAFileWithoutRoomForRF64IsRefusedAtTheLimit() throws {
        let path = temporaryPath("no-room.wav")
        XCTAssertThrowsError(try write(path, frames: 3000, limit: 4000, expectedFrames: 500)) {
            XCTAssertEqual($0 as? StreamError, .wavTooLarge(dataBytes: 4000, limitBytes: 4000))
            XCTAssertTrue("\($0)".contains("--out-type raw"), "\($0)")
        }
        let bytes = try read(path)
        XCTAssertEqual(bytes.count, 44 + 2000)
        XCTAssertEqual(le32(bytes, 40), 2000)
        XCTAssertEqual(le32(bytes, 4), 2036)
    }

    /// The signal handler's patch (pwrite only) writes the same header `finish()` does, RF64 included.
    func testTheSignalPatchWritesTheSameRF64Header() throws {
        for frames in [3000, 800] {
            let path = temporaryPath("signal-\(frames).wav")
            var patched: [UInt8] = []
            _ = try write(path, frames: frames, limit: 4000) { sink in
                sink.patchHeaderOnSignal()
                WAVSink.patchArmedHeader()
                SignalSafeHeader.headerBytes.store(0, ordering: .releasing)  // disarm
                patched = try self.read(path)
            }
            let finished = try read(path)
            XCTAssertEqual(Array(patched.prefix(80)), Array(finished.prefix(80)), "\(frames) frames")
            XCTAssertEqual(text(finished, 0), frames == 3000 ? "RF64" : "RIFF")
        }
    }

    /// On a pipe nothing can be patched: the header says "unknown length", as sox's does, and
    /// reserves nothing; a known length over the limit is announced as unknown too.
    func testAPipeSaysUnknownLength() throws {
        var descriptors: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&descriptors), 0)
        defer { close(descriptors[0]); close(descriptors[1]) }
        let sink = try WAVSink(output: OutputFile(fd: descriptors[1]), sampleRate: 8000, channelCount: 2, format: format,
                               expectedFrames: 2000, sizeLimit: 4000)
        XCTAssertNil(sink.announcedDataBytes)
        XCTAssertFalse(sink.reservesRF64)
        var header = [UInt8](repeating: 0, count: 44)
        XCTAssertEqual(Foundation.read(descriptors[0], &header, 44), 44)
        XCTAssertEqual(text(header, 12), "fmt ")
        XCTAssertEqual(le32(header, 40), 0x7FFF_F000)
    }
}
