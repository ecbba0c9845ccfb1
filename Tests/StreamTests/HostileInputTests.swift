import Foundation
import Separation
import Stream
import TestSupport
import XCTest

/// A pipe holding `bytes`, closed for writing, as `cat file |` gives (inputs up to 1 MB).
func pipeHolding(_ bytes: [UInt8]) throws -> Int32 {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { throw POSIXError(.EIO) }
    _ = fcntl(ends[1], 1031 /* F_SETPIPE_SZ, a macro Swift does not import */, 1 << 20)
    var done = 0
    while done < bytes.count {
        let written = bytes.withUnsafeBytes { write(ends[1], $0.baseAddress! + done, $0.count - done) }
        guard written > 0 else { close(ends[0]); close(ends[1]); throw POSIXError(.EIO) }
        done += written
    }
    close(ends[1])
    return ends[0]
}

/// Runs `body` on its own thread and fails the test, instead of hanging it, past `seconds`.
func withDeadline(_ seconds: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line,
                  _ body: @escaping @Sendable () -> Void) {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread { body(); done.signal() }
    thread.stackSize = 8 << 20
    thread.start()
    if done.wait(timeout: .now() + seconds) == .timedOut {
        XCTFail("\(what) did not finish within \(seconds) s", file: file, line: line)
    }
}

/// What decoding an input to its end gave: frames and channels, or the error.
struct Decoded {
    var frames = 0
    var channels = 0
    var error: Error?
}

/// Opens a source and reads it to the end in blocks of `blockFrames`.
func decodeAll(blockFrames: Int = 1000, _ open: () throws -> AudioSource) -> Decoded {
    var result = Decoded()
    do {
        let source = try open()
        result.channels = source.description.channelCount
        while true {
            let block = try source.read(maxFrames: blockFrames)
            guard let frames = block.first?.count, frames > 0 else { break }
            result.frames += frames
            // A decoder inventing audio would never stop; the callers' bounds catch it, this ends it.
            if result.frames > 10_000_000 { break }
        }
    } catch {
        result.error = error
    }
    return result
}

/// Bytes of a RIFF WAVE file: the fmt chunk's body, then `data` declaring `dataBytes`
/// (which may lie) and holding `payload`.
func wavBytes(formatTag: UInt16 = 1, channels: UInt16 = 1, rate: UInt32 = 16_000, bits: UInt16 = 16,
              blockAlign: UInt16? = nil, extra: [UInt8] = [], chunks: [UInt8] = [],
              dataBytes: UInt32? = nil, payload: [UInt8]) -> [UInt8] {
    func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
    func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xff) } }
    let align = blockAlign ?? UInt16(truncatingIfNeeded: Int(channels) * Int(bits) / 8)
    var fmt = le16(formatTag) + le16(channels) + le32(rate)
    fmt += le32(UInt32(truncatingIfNeeded: Int(rate) * Int(align))) + le16(align) + le16(bits) + extra
    var body = Array("WAVE".utf8) + Array("fmt ".utf8) + le32(UInt32(fmt.count)) + fmt + chunks
    body += Array("data".utf8) + le32(dataBytes ?? UInt32(payload.count)) + payload
    return Array("RIFF".utf8) + le32(UInt32(body.count)) + body
}

/// Hostile and broken input through the decoders, from memory and from pipes: every failure a
/// typed error, no hang, and never more audio than the bytes that arrived can hold.
final class HostileInputTests: XCTestCase {
    /// libsndfile's GSM 6.10 decoder kept decoding past the end of a pipe for as long as the
    /// header said (here 1000 blocks, 40 s, from one block of 65 bytes): the input found by
    /// tools/fuzz. The audio must end with the input.
    func testAHeaderOverstatingItsDataEndsWithTheInputOnAPipe() throws {
        var generator = SeededGenerator(seed: 3)
        let block = (0..<65).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let fact = Array("fact".utf8) + [4, 0, 0, 0] + [0x00, 0xE2, 0x04, 0x00]
        let gsm = wavBytes(formatTag: 0x31, channels: 1, rate: 8000, bits: 0, blockAlign: 65,
                           extra: [2, 0, 0x40, 0x01], chunks: fact, dataBytes: 65 * 1000, payload: block)
        let fromMemory = decodeAll { try SndfileSource(bytes: gsm) }
        XCTAssertNil(fromMemory.error)
        XCTAssertEqual(fromMemory.frames, 320, "one block of 65 bytes is 320 samples")
        let fd = try pipeHolding(gsm)
        defer { close(fd) }
        let fromPipe = decodeAll(blockFrames: 1000) { try SndfileSource(.fileDescriptor(fd)) }
        XCTAssertNil(fromPipe.error)
        XCTAssertGreaterThanOrEqual(fromPipe.frames, 320)
        XCTAssertLessThanOrEqual(fromPipe.frames, 2 * 320, "within one codec block of where the input ended, not 320,000 frames")
    }

    /// 24 bytes that made libsndfile's W64 parser loop for ever on a pipe (a chunk shorter than
    /// its own 24-byte header sends it back over the same bytes), found by tools/fuzz.
    func testAW64ChunkShorterThanItsHeaderOnAPipeIsAnErrorNotAHang() throws {
        let bytes: [UInt8] = Array("riff".utf8) + [0x2A, 0x91, 0x8E, 0x01] + [UInt8](repeating: 0, count: 8)
            + [0x0F, 0, 0, 0, 0, 0, 0, 0]
        final class Box: @unchecked Sendable { var result = Decoded() }
        let box = Box()
        let fd = try pipeHolding(bytes)
        withDeadline(20, "opening the W64 bytes from a pipe") {
            box.result = decodeAll { try SndfileSource(.fileDescriptor(fd)) }
        }
        guard case StreamError.unreadableHeader(let reason)? = box.result.error else {
            return XCTFail("\(String(describing: box.result.error))")
        }
        XCTAssertTrue(reason.contains("W64"), reason)
        close(fd)
    }

    /// libsndfile's reasons for refusing these say "SF_INFO struct incomplete" or "Too many
    /// channels specified"; the error names the value instead, from memory, a pipe or a file.
    func testImpossibleWAVFieldsAreNamed() throws {
        let payload = [UInt8](repeating: 0, count: 400)
        let cases: [([UInt8], StreamError)] = [
            (wavBytes(rate: 0, payload: payload), .invalidRate(hz: 0)),
            (wavBytes(channels: 0, blockAlign: 2, payload: payload), .invalidChannels(count: 0)),
            (wavBytes(channels: 65_535, blockAlign: 2, payload: payload), .invalidChannels(count: 65_535)),
            (wavBytes(bits: 0, blockAlign: 2, payload: payload), .unsupportedSampleFormat(encoding: "signed-integer", bits: 0)),
            (wavBytes(bits: 64, payload: payload), .unsupportedSampleFormat(encoding: "signed-integer", bits: 64)),
            (wavBytes(formatTag: 3, bits: 16, payload: payload), .unsupportedSampleFormat(encoding: "floating-point", bits: 16)),
        ]
        for (bytes, expected) in cases {
            XCTAssertThrowsError(try SndfileSource(bytes: bytes), "\(expected)") { XCTAssertEqual($0 as? StreamError, expected) }
            let fd = try pipeHolding(bytes)
            XCTAssertThrowsError(try SndfileSource(.fileDescriptor(fd)), "\(expected)") { XCTAssertEqual($0 as? StreamError, expected) }
            close(fd)
            let path = temporaryPath("impossible.wav")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try SndfileSource(.path(path)), "\(expected)") { XCTAssertEqual($0 as? StreamError, expected) }
            let file = open(path, O_RDONLY)
            XCTAssertThrowsError(try SndfileSource(.fileDescriptor(file)), "\(expected)") { XCTAssertEqual($0 as? StreamError, expected) }
            close(file)
        }
        XCTAssertEqual("\(StreamError.invalidChannels(count: 65_535))", "invalid channel count 65535 (1 to 1024)")
    }

    /// Lying sizes that libsndfile can live with give the audio that is really there.
    func testLyingSizesGiveTheAudioThatIsThere() throws {
        let frames = 500
        let payload = (0..<(2 * frames)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let huge = wavBytes(dataBytes: 0xFFFF_FFF0, payload: payload)
        let fromMemory = decodeAll { try SndfileSource(bytes: huge) }
        XCTAssertNil(fromMemory.error)
        XCTAssertEqual(fromMemory.frames, frames, "a data length of 4 GB over 1000 bytes")
        let fd = try pipeHolding(huge)
        defer { close(fd) }
        let fromPipe = decodeAll { try SndfileSource(.fileDescriptor(fd)) }
        XCTAssertNil(fromPipe.error)
        XCTAssertEqual(fromPipe.frames, frames, "a data length of 4 GB over 1000 bytes, from a pipe")
        let small = wavBytes(dataBytes: 10, payload: payload)
        XCTAssertEqual(decodeAll { try SndfileSource(bytes: small) }.frames, 5, "the header's 10 bytes are the data")
        var riff = wavBytes(payload: payload)
        riff[4..<8] = [0xFF, 0xFF, 0xFF, 0xFF]
        XCTAssertEqual(decodeAll { try SndfileSource(bytes: riff) }.frames, frames, "a RIFF length of 4 GB")
        riff[4..<8] = [4, 0, 0, 0]
        XCTAssertEqual(decodeAll { try SndfileSource(bytes: riff) }.frames, frames, "a RIFF length of 4 bytes")
    }

    /// Seeds: WAV in every sample format and channel layout the sinks write, a GSM and an IMA
    /// ADPCM header, the W64 bytes above and raw noise.
    func seeds() throws -> [[UInt8]] {
        var seeds: [[UInt8]] = []
        let formats: [(SampleFormat.Encoding, Int)] = [(.unsignedInteger, 8), (.signedInteger, 16), (.signedInteger, 24),
                                                       (.signedInteger, 32), (.floatingPoint, 32), (.floatingPoint, 64)]
        for (index, (encoding, bits)) in formats.enumerated() {
            let channels = [1, 2, 6][index % 3]
            let path = temporaryPath("seed-\(bits)-\(channels).wav")
            let sink = try WAVSink(output: try OutputFile(path: path), sampleRate: 8000, channelCount: channels,
                                   format: try SampleFormat(encoding: encoding, bits: bits))
            try sink.write(tones(frames: 120, rate: 8000, channels: channels))
            try sink.finish()
            seeds.append(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        }
        seeds.append(wavBytes(formatTag: 0x31, channels: 1, rate: 8000, bits: 0, blockAlign: 65, extra: [2, 0, 0x40, 0x01],
                              payload: [UInt8](repeating: 0x55, count: 130)))
        seeds.append(wavBytes(formatTag: 0x11, channels: 1, rate: 8000, bits: 4, blockAlign: 256, extra: [2, 0, 0xF9, 0x01],
                              payload: [UInt8](repeating: 0x37, count: 512)))
        seeds.append(Array("riff".utf8) + [0x2A, 0x91, 0x8E, 0x01] + [UInt8](repeating: 0, count: 16))
        var generator = SeededGenerator(seed: 5)
        seeds.append((0..<700).map { _ in UInt8.random(in: 0...255, using: &generator) })
        return seeds
    }

    /// What tools/fuzz does for hours, in a few seconds on every test run: seeded mutations
    /// (bytes, header fields set to edge values, cuts, repeats) decoded from memory and a pipe.
    func testMutatedHeadersNeverCrashHangOrInventAudio() throws {
        let seeds = try seeds()
        var generator = SeededGenerator(seed: 2024)
        let edges: [UInt32] = [0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1_000_000_000]
        final class Failures: @unchecked Sendable { var messages: [String] = []; var runs = 0 }
        let failures = Failures()
        var inputs: [[UInt8]] = []
        for _ in 0..<4000 {
            var bytes = seeds[Int.random(in: 0..<seeds.count, using: &generator)]
            for _ in 0..<Int.random(in: 1...3, using: &generator) where !bytes.isEmpty {
                let at = Int.random(in: 0..<min(bytes.count, 96), using: &generator)
                switch Int.random(in: 0..<5, using: &generator) {
                case 0:  // a random byte in the header
                    bytes[at] = UInt8.random(in: 0...255, using: &generator)
                case 1:  // a 16- or 32-bit field set to an edge value
                    let value = edges.randomElement(using: &generator)!
                    for offset in 0..<(Bool.random(using: &generator) ? 2 : 4) where at + offset < bytes.count {
                        bytes[at + offset] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(offset)))
                    }
                case 2:  // cut anywhere
                    bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
                case 3:  // a stretch repeated
                    let length = min(Int.random(in: 1...64, using: &generator), bytes.count - at)
                    bytes.insert(contentsOf: bytes[at..<(at + length)], at: at)
                default:  // a random byte anywhere
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            inputs.append(bytes)
        }
        let mutated = inputs
        withDeadline(120, "decoding 4000 mutated inputs twice") {
            for bytes in mutated {
                let limit = 64 * bytes.count + 100_000
                let fromMemory = decodeAll { try SndfileSource(bytes: bytes) }
                var fromPipe = Decoded()
                if let fd = try? pipeHolding(bytes) {
                    fromPipe = decodeAll { try SndfileSource(.fileDescriptor(fd)) }
                    close(fd)
                }
                for (how, decoded) in [("memory", fromMemory), ("pipe", fromPipe)] {
                    if let error = decoded.error, !(error is StreamError) {
                        failures.messages.append("\(how): untyped error \(error) for \(bytes.prefix(48))")
                    }
                    if decoded.frames * max(1, decoded.channels) > limit {
                        failures.messages.append("\(how): \(decoded.frames) frames × \(decoded.channels) from \(bytes.count) bytes: \(bytes.prefix(48))")
                    }
                }
                failures.runs += 1
            }
        }
        XCTAssertEqual(failures.runs, inputs.count)
        XCTAssertEqual(failures.messages, [])
    }

    /// Raw PCM of every format from a pipe, in random lengths and block sizes: every whole frame
    /// arrives and the bytes of a partial last frame are counted.
    func testRawStreamsOfAnyLengthGiveEveryWholeFrame() throws {
        var generator = SeededGenerator(seed: 77)
        for round in 0..<200 {
            let encoding = SampleFormat.Encoding.allCases.randomElement(using: &generator)!
            let bits = encoding == .floatingPoint ? [32, 64].randomElement(using: &generator)! : [8, 16, 24, 32].randomElement(using: &generator)!
            let format = try SampleFormat(encoding: encoding, bits: bits, endian: Bool.random(using: &generator) ? .little : .big)
            let channels = Int.random(in: 1...8, using: &generator)
            let length = Int.random(in: 1...3000, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let fd = try pipeHolding(bytes)
            defer { close(fd) }
            let source = try RawPCMSource(.fileDescriptor(fd), sampleRate: 8000, channelCount: channels, format: format)
            var frames = 0
            let blockFrames = Int.random(in: 1...300, using: &generator)
            do {
                while true {
                    let block = try source.read(maxFrames: blockFrames)
                    guard let got = block.first?.count, got > 0 else { break }
                    XCTAssertLessThanOrEqual(got, blockFrames)
                    XCTAssertEqual(block.count, channels)
                    if format.isInteger {  // (2³¹−1)/2³¹ is 1.0 in float32
                        XCTAssertTrue(block.allSatisfy { $0.allSatisfy { $0 >= -1 && $0 <= 1 } }, "round \(round)")
                    }
                    frames += got
                }
            } catch StreamError.emptyInput {
                XCTFail("round \(round): \(length) bytes reported empty")
            }
            let frameBytes = channels * format.bytesPerSample
            XCTAssertEqual(frames, length / frameBytes, "round \(round): \(format), \(channels) channels, \(length) bytes")
            XCTAssertEqual(source.droppedTrailingBytes, length % frameBytes, "round \(round)")
        }
        let empty = try pipeHolding([])
        defer { close(empty) }
        let source = try RawPCMSource(.fileDescriptor(empty), sampleRate: 8000, channelCount: 2,
                                      format: try SampleFormat(encoding: .signedInteger, bits: 16))
        XCTAssertThrowsError(try source.read(maxFrames: 100)) { XCTAssertEqual($0 as? StreamError, .emptyInput) }
    }
}

/// Full scale in, full scale out, with nothing reported as clamped.
final class FullScaleTests: XCTestCase {
    /// Found by tools/fuzz: float32 rounds 2³¹−1 / 2³¹ up to 1.0, so every 32-bit input at
    /// positive full scale was reported as clamped on its way out (and the decoder's [-1, 1)
    /// promise does not hold for 32 bits).
    func testThirtyTwoBitFullScaleRoundTripsWithoutAClampReport() throws {
        for endian in SampleFormat.Endian.allCases {
            let codec = SampleCodec(format: try SampleFormat(encoding: .signedInteger, bits: 32, endian: endian), channelCount: 1)
            let extremes: [Int32] = [.max, .min, .max - 64, 0]
            let bytes = extremes.flatMap { value -> [UInt8] in
                let raw = UInt32(bitPattern: value)
                let little = (0..<4).map { UInt8(truncatingIfNeeded: raw >> (8 * UInt32($0))) }
                return endian == .little ? little : little.reversed()
            }
            let decoded = bytes.withUnsafeBytes { codec.decode($0, frames: extremes.count) }
            XCTAssertEqual(decoded[0][0], 1.0, "2³¹−1 is 1.0 in float32")
            var encoded: [UInt8] = []
            XCTAssertEqual(codec.encode(decoded, into: &encoded), 0, "\(endian): full scale is not clamping")
            XCTAssertEqual(Array(encoded[0..<8]), Array(bytes[0..<8]), "\(endian): the extremes come back exactly")
        }
        let s32 = SampleCodec(format: try SampleFormat(encoding: .signedInteger, bits: 32), channelCount: 1)
        var bytes: [UInt8] = []
        XCTAssertEqual(s32.encode([[1.0001, -1.0001, 1.0, -1.0]], into: &bytes), 2, "beyond full scale still counts")
        let u8 = SampleCodec(format: try SampleFormat(encoding: .unsignedInteger, bits: 8), channelCount: 1)
        bytes = []
        XCTAssertEqual(u8.encode([[1.0, 127.0 / 128, -1.0]], into: &bytes), 1, "for 8 bits, 1.0 is a step beyond")
    }
}

/// NaN and ±Inf input samples are replaced before anything downstream sees them.
final class NonFiniteInputTests: XCTestCase {
    /// Records whether any window it was given held a value that is not finite.
    final class Spy: Separator, @unchecked Sendable {
        let name = "spy", sampleRate = 32_000
        var nonFinite = 0, windows = 0
        func separate(channels: [[Float]]) throws -> [[[Float]]] {
            for samples in channels {
                windows += 1
                nonFinite += samples.filter { !$0.isFinite }.count
            }
            return [channels]
        }
    }

    func testTheEngineNeverSeesNaNOrInfinity() throws {
        let format = try SampleFormat(encoding: .floatingPoint, bits: 32)
        // 44.1 kHz, so the samples go through the resampler first: a NaN there would smear
        // over the filter's length rather than stay one sample.
        var input = tones(frames: 44_100, rate: 44_100, channels: 2)
        let poisoned = [(0, 100), (0, 20_000), (1, 5), (1, 44_099), (0, 30_000), (1, 30_001)]
        let values: [Float] = [.nan, .infinity, -.infinity, .signalingNaN, .nan, -.infinity]
        for ((channel, frame), value) in zip(poisoned, values) { input[channel][frame] = value }
        var bytes: [UInt8] = []
        SampleCodec(format: format, channelCount: 2).encode(input, into: &bytes)
        let inPath = temporaryPath("nonfinite.f32"), outPath = temporaryPath("nonfinite-out.f32")
        try Data(bytes).write(to: URL(fileURLWithPath: inPath))
        let spy = Spy()
        var configuration = PipelineConfiguration()
        configuration.chunkSeconds = 0.25
        configuration.overlapSeconds = 0.05
        let pipeline = try Pipeline(source: try RawPCMSource(.path(inPath), sampleRate: 44_100, channelCount: 2, format: format),
                                    engine: spy, sink: RawSink(output: try OutputFile(path: outPath), channelCount: 2, format: format),
                                    outputRate: 44_100, configuration: configuration)
        let summary = try pipeline.run()
        XCTAssertEqual(summary.nonFiniteSamples, poisoned.count)
        XCTAssertGreaterThan(spy.windows, 8)
        XCTAssertEqual(spy.nonFinite, 0, "no window the engine was given held NaN or infinity")
        let output = try Data(contentsOf: URL(fileURLWithPath: outPath))
        let decoded = output.withUnsafeBytes { SampleCodec(format: format, channelCount: 2).decode($0, frames: output.count / 8) }
        XCTAssertEqual(decoded[0].count, 44_100)
        XCTAssertTrue(decoded.allSatisfy { $0.allSatisfy(\.isFinite) })
    }
}
