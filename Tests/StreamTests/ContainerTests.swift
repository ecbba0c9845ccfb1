import Foundation
@testable import Stream
import XCTest

/// The output containers: extension mapping, the sample-format rule, exact round trips through
/// libsndfile, and what each does on a pipe.
final class ContainerTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("containers-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    /// Two channels of tones at `rate` with a few samples past full scale (to be clamped).
    static func tones(frames: Int, rate: Int = 48_000) -> [[Float]] {
        var left = (0..<frames).map { Float(0.6 * sin(2 * Double.pi * 440 * Double($0) / Double(rate))) }
        let right = (0..<frames).map { Float(0.3 * sin(2 * Double.pi * 1234.5 * Double($0) / Double(rate)) + 0.0001 * Double($0 % 7)) }
        if frames > 20 { left[10] = 1.5; left[11] = -1.25; left[12] = 0.999_99 }
        return [left, right]
    }

    static func format(_ encoding: SampleFormat.Encoding, _ bits: Int) -> SampleFormat {
        try! SampleFormat(encoding: encoding, bits: bits)
    }

    /// What WAVSink/RawSink write for `planar` at `format`, decoded back to floats, and the clamps.
    static func reference(_ planar: [[Float]], _ format: SampleFormat) -> (samples: [[Float]], clamped: Int) {
        let codec = SampleCodec(format: format, channelCount: planar.count)
        var bytes: [UInt8] = []
        let clamped = codec.encode(planar, into: &bytes)
        return (bytes.withUnsafeBytes { codec.decode($0, frames: planar[0].count) }, clamped)
    }

    static func readAll(_ source: SndfileSource) throws -> [[Float]] {
        var planar = [[Float]](repeating: [], count: source.description.channelCount)
        while true {
            let block = try source.read(maxFrames: 4096)
            if block.isEmpty { return planar }
            for channel in planar.indices { planar[channel] += block[channel] }
        }
    }

    /// Writes `planar` with the container's sink to a new file; returns its path and the sink.
    func write(_ container: OutputContainer, _ planar: [[Float]], format: SampleFormat, rate: Int = 48_000,
               name: String = UUID().uuidString) throws -> (path: String, sink: AudioSink) {
        let path = folder + "/\(name).\(container.rawValue)"
        let output = try OutputFile(path: path)
        let sink = try container.makeSink(output: output, sampleRate: rate, channelCount: planar.count, format: format,
                                          expectedFrames: planar[0].count)
        try sink.write(Array(planar.map { Array($0[..<1000]) }))
        try sink.write(Array(planar.map { Array($0[1000...]) }))
        try sink.finish()
        return (path, sink)
    }

    static func correlation(_ a: [Float], _ b: [Float]) -> Double {
        let n = min(a.count, b.count)
        var ab = 0.0, aa = 0.0, bb = 0.0
        for i in 0..<n { ab += Double(a[i]) * Double(b[i]); aa += Double(a[i]) * Double(a[i]); bb += Double(b[i]) * Double(b[i]) }
        return ab / (aa * bb).squareRoot()
    }

    var libsndfileContainers: [OutputContainer] { OutputContainer.available.filter { $0 != .wav && $0 != .raw } }

    // MARK: Names

    func testExtensionsMapAsSoxMapsThem() {
        let expected: [String: OutputContainer?] = [
            "wav": .wav, "WAVE": .wav, "flac": .flac, "aif": .aiff, "aiff": .aiff, "AIFC": .aiff, "w64": .w64, "caf": .caf,
            "ogg": .ogg, "oga": .ogg, "opus": .opus, "raw": .raw, "pcm": .raw, "mp3": nil, "m4a": nil, "": nil, "txt": nil,
        ]
        for (ext, container) in expected { XCTAssertEqual(OutputContainer(extension: ext), container, ext) }
        XCTAssertEqual(OutputContainer.forPath("/a/b.c/song.FLAC"), .flac)
        XCTAssertEqual(OutputContainer.forPath("/a/b.flac/song"), nil)
        XCTAssertTrue(OutputContainer.available.starts(with: [.wav, .raw]))
    }

    func testAnOutputNamedForAnotherContainerIsRefusedInOneLine() throws {
        XCTAssertNoThrow(try OutputContainer.flac.check(path: "out.flac"))
        XCTAssertNoThrow(try OutputContainer.aiff.check(path: "out.aifc"))
        XCTAssertNoThrow(try OutputContainer.ogg.check(path: "out.oga"))
        XCTAssertNoThrow(try OutputContainer.wav.check(path: "out"))
        XCTAssertNoThrow(try OutputContainer.raw.check(path: "out.raw"))
        for (container, path, words) in [(OutputContainer.wav, "out.flac", "a .flac name promises FLAC; give --out-type flac"),
                                         (.flac, "out.wav", "cannot write FLAC under 'out.wav'"),
                                         (.raw, "out.aiff", "a .aiff name promises a header"),
                                         (.opus, "out.ogg", "promises Ogg Vorbis"),
                                         (.wav, "out.mp3", "not .mp3")] {
            XCTAssertThrowsError(try container.check(path: path), path) { error in
                XCTAssertEqual(error as? StreamError, .unwrittenContainer(path: path, container: container))
                let text = "\(error)"
                XCTAssertTrue(text.contains(words), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
        if OutputContainer.flac.isAvailable {
            let text = "\(StreamError.unwrittenContainer(path: "x.mp3", container: .wav))"
            XCTAssertTrue(text.contains("wav, flac"), text)
        }
    }

    // MARK: The format rule

    /// The rule the command line had for WAV and raw, kept here as the oracle.
    static func formerRule(_ input: SampleFormat, bits outBits: Int?, encoding explicitEncoding: SampleFormat.Encoding?,
                           wav: Bool) throws -> SampleFormat {
        var bits = outBits ?? input.bits
        var encoding = explicitEncoding ?? input.encoding
        if explicitEncoding == .floatingPoint, outBits == nil, input.encoding != .floatingPoint { bits = 32 }
        if let explicitEncoding, explicitEncoding != .floatingPoint, outBits == nil, input.encoding == .floatingPoint {
            bits = input.bits == 64 ? 32 : 16
        }
        if explicitEncoding == nil, outBits != nil, encoding == .floatingPoint, bits < 32 { encoding = .signedInteger }
        if explicitEncoding == nil, outBits != nil, encoding != .floatingPoint, bits == 64 { encoding = .floatingPoint }
        if wav, explicitEncoding == nil, encoding != .floatingPoint { encoding = bits == 8 ? .unsignedInteger : .signedInteger }
        return try SampleFormat(encoding: encoding, bits: bits, endian: input.endian)
    }

    static let inputs: [SampleFormat] = [format(.unsignedInteger, 8), format(.signedInteger, 8), format(.signedInteger, 16),
                                         format(.signedInteger, 24), format(.signedInteger, 32), format(.floatingPoint, 32),
                                         format(.floatingPoint, 64), try! SampleFormat(encoding: .signedInteger, bits: 16, endian: .big)]

    func testWAVAndRawKeepTheirFormerRule() {
        var compared = 0
        for container in [OutputContainer.wav, .raw] {
            for input in Self.inputs {
                for bits in [nil, 8, 12, 16, 24, 32, 64] {
                    for encoding in [nil] + SampleFormat.Encoding.allCases {
                        let former = Result { try Self.formerRule(input, bits: bits, encoding: encoding, wav: container == .wav) }
                        let now = Result { try container.format(for: input, explicitBits: bits, explicitEncoding: encoding) }
                        switch (former, now) {
                        case (.success(let a), .success(let b)): XCTAssertEqual(a, b, "\(container) \(input) \(String(describing: bits))")
                        case (.failure(let a), .failure(let b)): XCTAssertEqual(a as? StreamError, b as? StreamError)
                        default: XCTFail("\(container) \(input) bits \(String(describing: bits)) \(String(describing: encoding)): \(former) vs \(now)")
                        }
                        compared += 1
                    }
                }
            }
        }
        XCTAssertEqual(compared, 2 * 8 * 7 * 4)
    }

    func testEachContainerIsGivenWhatItHoldsAndRefusesTheRest() throws {
        func made(_ container: OutputContainer, _ input: SampleFormat, bits: Int? = nil,
                  encoding: SampleFormat.Encoding? = nil) throws -> String {
            let format = try container.format(for: input, explicitBits: bits, explicitEncoding: encoding)
            return "\(format.encoding == .floatingPoint ? "f" : format.encoding == .signedInteger ? "s" : "u")\(format.bits)"
        }
        let f32 = Self.format(.floatingPoint, 32), f64 = Self.format(.floatingPoint, 64), s32 = Self.format(.signedInteger, 32)
        let s16 = Self.format(.signedInteger, 16), u8 = Self.format(.unsignedInteger, 8), s24 = Self.format(.signedInteger, 24)
        // FLAC: 24 bits at most, as sox writes it; integers only.
        XCTAssertEqual(try made(.flac, f32), "s24")
        XCTAssertEqual(try made(.flac, f64), "s24")
        XCTAssertEqual(try made(.flac, s32), "s24")
        XCTAssertEqual(try made(.flac, s24), "s24")
        XCTAssertEqual(try made(.flac, s16), "s16")
        XCTAssertEqual(try made(.flac, u8), "s8")
        XCTAssertEqual(try made(.flac, f32, bits: 16), "s16")
        XCTAssertEqual(try made(.flac, f32, encoding: .signedInteger), "s16")
        // AIFF and CAF: signed integers and floats; W64 as WAV.
        XCTAssertEqual(try made(.aiff, u8), "s8")
        XCTAssertEqual(try made(.aiff, f64), "f64")
        XCTAssertEqual(try made(.aiff, s32), "s32")
        XCTAssertEqual(try made(.caf, u8), "s8")
        XCTAssertEqual(try made(.caf, s16, encoding: .floatingPoint), "f32")
        XCTAssertEqual(try made(.w64, Self.format(.signedInteger, 8)), "u8")
        XCTAssertEqual(try made(.w64, f64), "f64")
        XCTAssertEqual(try made(.ogg, s24), "f32")
        XCTAssertEqual(try OutputContainer.aiff.format(for: s16, explicitBits: nil, explicitEncoding: nil).endian, .big)
        XCTAssertEqual(try OutputContainer.flac.format(for: s16, explicitBits: nil, explicitEncoding: nil,
                                                       explicitEndian: .big).endian, .little)
        let refusals: [(OutputContainer, SampleFormat, Int?, SampleFormat.Encoding?, StreamError)] = [
            (.flac, s16, 32, nil, .cannotHold(container: .flac, value: "32-bit signed-integer samples")),
            (.flac, s16, nil, .floatingPoint, .cannotHold(container: .flac, value: "32-bit floating-point samples")),
            (.flac, s16, 8, .unsignedInteger, .cannotHold(container: .flac, value: "8-bit unsigned-integer samples")),
            (.flac, s16, 64, nil, .cannotHold(container: .flac, value: "64-bit floating-point samples")),
            (.aiff, s16, 8, .unsignedInteger, .cannotHold(container: .aiff, value: "8-bit unsigned-integer samples")),
            (.caf, s16, 16, .unsignedInteger, .cannotHold(container: .caf, value: "16-bit unsigned-integer samples")),
            (.w64, s16, 8, .signedInteger, .cannotHold(container: .w64, value: "8-bit signed-integer samples")),
            (.w64, s16, 16, .unsignedInteger, .cannotHold(container: .w64, value: "16-bit unsigned-integer samples")),
            (.ogg, s16, 16, nil, .cannotHold(container: .ogg, value: "a bit depth (16 bits)")),
            (.opus, s16, nil, .floatingPoint, .cannotHold(container: .opus, value: "an encoding (floating-point)")),
            (.flac, s16, 12, nil, .unsupportedSampleFormat(encoding: "signed-integer", bits: 12)),
        ]
        for (container, input, bits, encoding, expected) in refusals {
            XCTAssertThrowsError(try container.format(for: input, explicitBits: bits, explicitEncoding: encoding),
                                 "\(container) \(String(describing: bits)) \(String(describing: encoding))") { error in
                XCTAssertEqual(error as? StreamError, expected)
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
        XCTAssertTrue("\(StreamError.cannotHold(container: .flac, value: "32-bit signed-integer samples"))"
            .contains("FLAC cannot hold 32-bit signed-integer samples (it holds 8/16/24-bit signed integers; sox writes FLAC at 24 bits at most)"))
        // Rates and channels.
        XCTAssertNoThrow(try OutputContainer.opus.check(sampleRate: 48_000, channelCount: 2))
        XCTAssertNoThrow(try OutputContainer.opus.check(sampleRate: 12_000, channelCount: 1))
        XCTAssertThrowsError(try OutputContainer.opus.check(sampleRate: 44_100, channelCount: 2)) { error in
            XCTAssertEqual(error as? StreamError, .opusRate(hz: 44_100))
            XCTAssertTrue("\(error)".contains("give --out-rate 48k"), "\(error)")
        }
        XCTAssertNoThrow(try OutputContainer.ogg.check(sampleRate: 44_100, channelCount: 2))
        XCTAssertThrowsError(try OutputContainer.flac.check(sampleRate: 48_000, channelCount: 9)) { error in
            XCTAssertEqual(error as? StreamError, .cannotHold(container: .flac, value: "9 channels (8 at most)"))
        }
    }

    // MARK: Round trips

    func testEveryLosslessContainerRoundTripsToTheSamplesWAVSinkWrites() throws {
        let planar = Self.tones(frames: 3001)
        var checked = 0
        for container in libsndfileContainers where !container.isLossy {
            for input in Self.inputs {
                let format = try container.format(for: input, explicitBits: nil, explicitEncoding: nil)
                let (path, sink) = try write(container, planar, format: format)
                let source = try SndfileSource(.path(path))
                XCTAssertEqual(source.description.sampleRate, 48_000)
                XCTAssertEqual(source.description.channelCount, 2)
                XCTAssertEqual(source.description.knownFrames, 3001, "\(container) \(format)")
                XCTAssertEqual(source.description.sampleFormat.bits, format.bits, "\(container) \(format)")
                let got = try Self.readAll(source)
                // The reference: what RawSink writes at this width (8-bit signed, as these containers hold it).
                let (expected, clamped) = Self.reference(planar, format)
                XCTAssertEqual(got, expected, "\(container) \(format)")
                XCTAssertEqual(sink.clampedSamples, clamped, "\(container) \(format)")
                // 1.5 and −1.25 are clamped at every width; 0.99999 rounds past full scale at 8 and 16 bits.
                XCTAssertEqual(clamped, format.encoding == .floatingPoint ? 0 : format.bits <= 16 ? 3 : 2, "\(container) \(format)")
                checked += 1
            }
        }
        if OutputContainer.flac.isAvailable { XCTAssertGreaterThanOrEqual(checked, 4 * Self.inputs.count) }
    }

    func testFLACAt16BitsDecodesToExactlyTheSamplesOfWAVSink() throws {
        try XCTSkipUnless(OutputContainer.flac.isAvailable, "this libsndfile writes no FLAC")
        let planar = Self.tones(frames: 5000).map { $0.map { $0 * 0.9 + 0.000_013 } }  // values between 16-bit steps
        let s16 = Self.format(.signedInteger, 16)
        let (flac, _) = try write(.flac, planar, format: s16)
        let (wav, _) = try write(.wav, planar, format: s16)
        let fromFLAC = try Self.readAll(SndfileSource(.path(flac)))
        let fromWAV = try Self.readAll(SndfileSource(.path(wav)))
        XCTAssertEqual(fromFLAC[0].count, 5000)
        XCTAssertEqual(fromFLAC, fromWAV)
    }

    func testLossyContainersKeepTheLengthAndTheSignal() throws {
        let planar = Self.tones(frames: 48_013).map { $0.map { min(max($0, -0.9), 0.9) } }
        for container in libsndfileContainers where container.isLossy {
            let format = try container.format(for: Self.format(.signedInteger, 16), explicitBits: nil, explicitEncoding: nil)
            let (path, sink) = try write(container, planar, format: format)
            XCTAssertEqual(sink.clampedSamples, 0)
            let got = try Self.readAll(SndfileSource(.path(path)))
            // libsndfile 1.2.0 gives back exactly the frames written: Vorbis's granule positions
            // and Opus's pre-skip and end trimming are applied by its decoder.
            XCTAssertEqual(got[0].count, 48_013, "\(container)")
            for channel in 0..<2 {
                XCTAssertGreaterThan(Self.correlation(got[channel], planar[channel]), 0.9, "\(container) channel \(channel)")
            }
        }
    }

    // MARK: Pipes

    /// Runs `body` with an `OutputFile` on the write end of a pipe, on its own thread, and returns
    /// every byte the read end gave, and what `body` threw.
    func throughAPipe(_ body: @escaping (OutputFile) throws -> Void) throws -> (bytes: [UInt8], error: Error?) {
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: Error?
        let writeEnd = ends[1]
        let thread = Thread {
            let output = OutputFile(fd: writeEnd)
            do { try body(output) } catch { failure = error }
            close(writeEnd)
            done.signal()
        }
        thread.start()
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
            if got <= 0 { break }
            bytes += chunk[..<got]
        }
        close(ends[0])
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        return (bytes, failure)
    }

    func testFLACOnAPipeDecodesToTheExactSamplesAndLength() throws {
        try XCTSkipUnless(OutputContainer.flac.isAvailable, "this libsndfile writes no FLAC")
        let planar = Self.tones(frames: 20_011)
        let s16 = Self.format(.signedInteger, 16)
        nonisolated(unsafe) var dropped: Int64 = -1
        let (bytes, error) = try throughAPipe { output in
            XCTAssertFalse(output.isSeekableFile)
            let sink = try OutputContainer.flac.makeSink(output: output, sampleRate: 48_000, channelCount: 2, format: s16,
                                                         expectedFrames: nil)
            for start in stride(from: 0, to: 20_011, by: 4096) {
                try sink.write(planar.map { Array($0[start..<min(start + 4096, 20_011)]) })
            }
            try sink.finish()
            dropped = (sink as? SndfileSink)?.droppedPatchBytes ?? -1
        }
        XCTAssertNil(error)
        // libsndfile tried to rewrite STREAMINFO; the bytes it would have patched never reached the pipe.
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertEqual(Array(bytes.prefix(4)), Array("fLaC".utf8))
        // The same stream as written to a file, but for STREAMINFO's totals (bytes 8 to 41),
        // which a pipe keeps at "unknown": no patch was appended as stray bytes at the end.
        let (file, _) = try write(.flac, planar, format: s16, name: "seekable")
        let written = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        XCTAssertEqual(bytes.count, written.count)
        XCTAssertEqual(Array(bytes[42...]), Array(written[42...]))
        XCTAssertEqual(Array(bytes[..<8]), Array(written[..<8]))
        XCTAssertNotEqual(Array(bytes[8..<42]), Array(written[8..<42]), "the file's STREAMINFO states its length")
        let (expected, _) = Self.reference(planar, s16)
        // libsndfile reads it from a file holding the bytes, and from memory.
        let path = folder + "/piped.flac"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let source = try SndfileSource(.path(path))
        XCTAssertNil(source.description.knownFrames, "STREAMINFO says the length is unknown")
        XCTAssertEqual(try Self.readAll(source), expected)
        XCTAssertEqual(try Self.readAll(SndfileSource(bytes: bytes)), expected)
        // ffmpeg reads it from a pipe.
        let ffmpeg = "/usr/bin/ffmpeg"
        guard FileManager.default.isExecutableFile(atPath: ffmpeg) else { return }
        let decoded = try Self.run(ffmpeg, ["-v", "error", "-i", "-", "-f", "s16le", "-"], input: bytes)
        XCTAssertEqual(decoded.count, 20_011 * 4)
        let samples = decoded.withUnsafeBytes { raw in (0..<decoded.count / 2).map { Int16(littleEndian: raw.load(fromByteOffset: $0 * 2, as: Int16.self)) } }
        let interleaved = (0..<20_011).flatMap { [expected[0][$0], expected[1][$0]] }.map { Int16($0 * 32_768) }
        XCTAssertEqual(samples, interleaved)
    }

    func testOggOnAPipeAndTheContainersThatCannotBe() throws {
        for container in libsndfileContainers {
            let (bytes, error) = try throughAPipe { output in
                let rate = container == .opus ? 48_000 : 44_100
                let format = try container.format(for: Self.format(.signedInteger, 16), explicitBits: nil, explicitEncoding: nil)
                let sink = try container.makeSink(output: output, sampleRate: rate, channelCount: 2, format: format,
                                                  expectedFrames: 10_000)
                try sink.write(Self.tones(frames: 10_000, rate: rate))
                try sink.finish()
            }
            if container.streamsToAPipe {
                XCTAssertNil(error, "\(container)")
                if container.isLossy {
                    XCTAssertEqual(try Self.readAll(SndfileSource(bytes: bytes))[0].count, 10_000, "\(container)")
                }
            } else {
                XCTAssertEqual(error as? StreamError, .notToAPipe(container: container))
                XCTAssertTrue(bytes.isEmpty, "\(container): nothing is written before the refusal")
                XCTAssertTrue("\(error!)".contains("cannot be written to a pipe"))
            }
        }
        XCTAssertEqual(libsndfileContainers.filter { !$0.streamsToAPipe }.sorted { $0.rawValue < $1.rawValue },
                       [.aiff, .caf, .w64].filter(\.isAvailable))
    }

    func testAClosedPipeIsOutputClosed() throws {
        try XCTSkipUnless(OutputContainer.flac.isAvailable, "this libsndfile writes no FLAC")
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        var ends: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&ends), 0)
        close(ends[0])
        defer { close(ends[1]) }
        let output = OutputFile(fd: ends[1])
        let noise = (0..<2).map { _ in (0..<65_536).map { _ in Float.random(in: -0.5..<0.5) } }
        XCTAssertThrowsError(try {
            let sink = try OutputContainer.flac.makeSink(output: output, sampleRate: 48_000, channelCount: 2,
                                                         format: Self.format(.signedInteger, 24), expectedFrames: nil)
            for _ in 0..<8 { try sink.write(noise) }
            try sink.finish()
        }()) { error in
            XCTAssertEqual(error as? StreamError, .outputClosed)
        }
    }

    /// Runs `tool` with `input` on its stdin; returns its stdout.
    static func run(_ tool: String, _ arguments: [String], input: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return [UInt8](data)
    }
}
