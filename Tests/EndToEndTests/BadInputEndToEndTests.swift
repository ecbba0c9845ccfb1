import Foundation
import Stream
import TestSupport
import XCTest

/// Bad input through the real binary, as a user meets it: each case gives either correct
/// output or exactly one line on stderr naming the problem and the value, with a non-zero
/// exit; never a crash, a hang or a large allocation (peak RSS is measured with GNU time).
final class BadInputEndToEndTests: XCTestCase {
    // MARK: Building inputs

    static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xff) } }

    /// A RIFF WAVE file whose fields may lie: fmt chunk, optional extra chunks, then `data`
    /// declaring `dataBytes` and holding `payload`.
    static func wav(formatTag: UInt16 = 1, channels: UInt16 = 1, rate: UInt32 = 16_000, bits: UInt16 = 16,
                    blockAlign: UInt16? = nil, extra: [UInt8] = [], chunks: [UInt8] = [],
                    dataBytes: UInt32? = nil, riffBytes: UInt32? = nil, payload: [UInt8]) -> [UInt8] {
        let align = blockAlign ?? UInt16(truncatingIfNeeded: Int(channels) * Int(bits) / 8)
        var fmt = le16(formatTag) + le16(channels) + le32(rate)
        fmt += le32(UInt32(truncatingIfNeeded: Int(rate) * Int(align))) + le16(align) + le16(bits) + extra
        var body = Array("WAVE".utf8) + Array("fmt ".utf8) + le32(UInt32(fmt.count)) + fmt + chunks
        body += Array("data".utf8) + le32(dataBytes ?? UInt32(payload.count)) + payload
        return Array("RIFF".utf8) + le32(riffBytes ?? UInt32(body.count)) + body
    }

    /// 1000 frames of a 16-bit mono sine at 16 kHz.
    static let sine16: [UInt8] = (0..<1000).flatMap { frame -> [UInt8] in
        le16(UInt16(bitPattern: Int16(8000 * sin(Double(frame) * 0.2))))
    }

    static func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = Harness.path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    // MARK: Running

    struct Run {
        var status: Int32
        var stderr: String
        var outputFrames: Int?
        var peakMB: Double
        var seconds: Double
    }

    /// Runs `$BIN --engine identity FLAGS` on `input`, from a pipe (`cat input |`) or a
    /// redirected file (`< input`), writing a WAV; returns the output's length in frames.
    func run(_ input: String, pipe: Bool, flags: String = "--engine identity") throws -> Run {
        let output = Harness.path("bad-out-\(UUID().uuidString).wav"), rss = Harness.path("rss-\(UUID().uuidString)")
        let command = pipe
            ? "cat \(input) | /usr/bin/time -f %M -o \(rss) timeout 60 $BIN \(flags) > \(output)"
            : "/usr/bin/time -f %M -o \(rss) timeout 60 $BIN \(flags) < \(input) > \(output)"
        let result = try Harness.shell(command)
        let kilobytes = (try? String(contentsOfFile: rss, encoding: .utf8))?
            .split(separator: "\n").last.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) } ?? 0
        let frames = result.status == 0 ? try? Harness.readAudio(output).channels.first?.count : nil
        return Run(status: result.status, stderr: result.stderr, outputFrames: frames ?? nil,
                   peakMB: kilobytes / 1024, seconds: result.seconds)
    }

    /// One line, `audiosep-stream: …` containing `message`, and a non-zero exit.
    func assertOneLineError(_ run: Run, _ message: String, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 1, "\(label): \(run.stderr)", file: file, line: line)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "\(label): \(run.stderr)", file: file, line: line)
        XCTAssertTrue(run.stderr.hasPrefix("audiosep-stream: "), "\(label): \(run.stderr)", file: file, line: line)
        XCTAssertTrue(run.stderr.contains(message), "\(label): wanted '\(message)' in \(run.stderr)", file: file, line: line)
    }

    func assertSmallAndQuick(_ run: Run, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThan(run.peakMB, 300, "\(label): peak RSS", file: file, line: line)
        XCTAssertLessThan(run.seconds, 30, "\(label): time", file: file, line: line)
    }

    // MARK: Tests

    func testEmptyInputFromAPipeAFileOrDevNull() throws {
        let empty = try Self.file("empty.wav", [])
        for (label, command) in [("pipe", "printf '' | $BIN --engine identity"), ("file", "$BIN --engine identity < \(empty)"),
                                 ("path", "$BIN --engine identity -i \(empty)"), ("/dev/null", "$BIN --engine identity < /dev/null"),
                                 ("raw", "$BIN --engine identity -t raw -r 8000 -c 1 -b 16 -e signed < /dev/null")] {
            let result = try Harness.shell(command + " > /dev/null")
            assertOneLineError(Run(status: result.status, stderr: result.stderr, peakMB: 0, seconds: result.seconds),
                               "input is empty", label)
        }
    }

    func testGarbageBytes() throws {
        var state: UInt64 = 12_345  // a fixed seed: every run sees the same garbage
        let garbage = (0..<50_000).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let path = try Self.file("garbage.bin", garbage)
        for pipe in [true, false] {
            let result = try run(path, pipe: pipe)
            assertOneLineError(result, "cannot read the input's header", "garbage, pipe \(pipe)")
            assertSmallAndQuick(result, "garbage")
        }
    }

    /// libsndfile hands bytes that start like an MPEG frame to libmpg123, which prints notes of
    /// its own on stderr while it probes and decodes; still one line.
    func testGarbageThatLooksLikeMPEGIsStillOneLine() throws {
        let frameThenZeros = try Self.file("mpeg-zeros.bin", [0xFF, 0xFB, 0x90, 0x00] + [UInt8](repeating: 0, count: 3000))
        let syncThenNoise = try Self.file("mpeg-noise.bin", [0xFF, 0xF3, 0x00, 0x00] + (0..<300).map { UInt8(($0 * 97 + 5) % 256) })
        for path in [frameThenZeros, syncThenNoise] {
            for pipe in [true, false] {
                let result = try run(path, pipe: pipe)
                XCTAssertEqual(result.status, 1, result.stderr)
                XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "\(path), pipe \(pipe): \(result.stderr)")
                XCTAssertTrue(result.stderr.hasPrefix("audiosep-stream: "), result.stderr)
            }
        }
    }

    /// A file that is not audio, on `-i`, from `<` and from a pipe: one line saying it is not
    /// audio (libsndfile's "File does not exist or is not a regular file", which its MPEG probe
    /// gives of a file that exists and is one, and "Unspecified internal error" from a pipe,
    /// never reach the user).
    func testAFileThatIsNotAudioIsNamedSo() throws {
        let text = try Self.file("notes.txt", Array("# Notes\n\nThis is a text file, not audio.\n".utf8))
        let mpeg = try Self.file("mpeg-noise-2.bin", [0xFF, 0xFB, 0x90, 0x00] + (0..<2000).map { UInt8(($0 * 131 + 7) % 256) })
        let cases: [(String, String)] = [
            ("$BIN --engine identity -i \(text)", "cannot open '\(text)' as audio: Format not recognised; for headerless PCM give -t raw"),
            ("$BIN --engine identity < \(text)", "cannot read the input's header (Format not recognised.)"),
            ("cat \(text) | $BIN --engine identity", "cannot read the input's header (Format not recognised.)"),
            ("$BIN --engine identity -i \(mpeg)", "cannot open '\(mpeg)' as audio: its first bytes look like MPEG audio"),
            ("$BIN --engine identity < \(mpeg)", "cannot read the input's header (its first bytes look like MPEG audio"),
            ("cat \(mpeg) | $BIN --engine identity", "cannot read the input's header (its first bytes look like MPEG audio"),
        ]
        for (command, message) in cases {
            let result = try Harness.shell(command + " > /dev/null")
            assertOneLineError(Run(status: result.status, stderr: result.stderr, peakMB: 0, seconds: result.seconds), message, command)
            XCTAssertFalse(result.stderr.contains("regular file"), result.stderr)
            XCTAssertFalse(result.stderr.contains("internal error"), result.stderr)
        }
    }

    /// A folder on stdin (`< /tmp`) is said to be one, before anything else (an engine's note
    /// included), for a headed and a raw input; not "input is empty".
    func testAFolderOnStdinIsNamedSo() throws {
        let folder = Harness.path("a-folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for flags in ["vocals", "--engine identity", "--engine identity -t raw -r 8000 -c 1 -b 16 -e signed"] {
            let result = try Harness.shell("HOME=/nonexistent AUDIOSEP_MODEL= $BIN \(flags) < \(folder) > /dev/null")
            assertOneLineError(Run(status: result.status, stderr: result.stderr, peakMB: 0, seconds: result.seconds),
                               "standard input is a folder, not audio; give a file: < in.wav, or -i in.wav", flags)
        }
    }

    /// Headers whose fields lie: the ones libsndfile can live with give the audio that is
    /// there; the others are one line naming the field's value.
    func testWAVHeadersThatLie() throws {
        enum Expect { case frames(Int), error(String) }
        let gsmBlock = (0..<65).map { UInt8(($0 * 37 + 11) % 256) }
        let cases: [(String, [UInt8], Expect)] = [
            ("data length 4 GB", Self.wav(dataBytes: 0xFFFF_FFF0, payload: Self.sine16), .frames(1000)),
            ("data length 10 bytes", Self.wav(dataBytes: 10, payload: Self.sine16), .frames(5)),
            ("RIFF length 4 GB", Self.wav(riffBytes: 0xFFFF_FFFF, payload: Self.sine16), .frames(1000)),
            ("RIFF length 4 bytes", Self.wav(riffBytes: 4, payload: Self.sine16), .frames(1000)),
            ("rate 0", Self.wav(rate: 0, payload: Self.sine16), .error("invalid sample rate 0 hz")),
            ("rate 1e9", Self.wav(rate: 1_000_000_000, payload: Self.sine16), .error("1000000000 hz")),
            ("channels 0", Self.wav(channels: 0, blockAlign: 2, payload: Self.sine16), .error("invalid channel count 0")),
            ("channels 65535", Self.wav(channels: 65_535, blockAlign: 2, payload: Self.sine16), .error("invalid channel count 65535")),
            ("bits 0", Self.wav(bits: 0, blockAlign: 2, payload: Self.sine16), .error("0-bit signed-integer")),
            ("bits 65535", Self.wav(bits: 65_535, blockAlign: 2, payload: Self.sine16), .error("65535-bit signed-integer")),
            ("float bits 16", Self.wav(formatTag: 3, bits: 16, payload: Self.sine16), .error("16-bit floating-point")),
            ("bits 12 in 2 bytes", Self.wav(bits: 12, blockAlign: 2, payload: Self.sine16), .frames(1000)),
            // GSM 6.10 claiming 1000 blocks (40 s) over one: libsndfile used to invent the rest from a pipe.
            ("GSM data length 1000 blocks", Self.wav(formatTag: 0x31, rate: 8000, bits: 0, blockAlign: 65, extra: [2, 0, 0x40, 0x01],
                                                     dataBytes: 65_000, payload: gsmBlock), .frames(320)),
        ]
        for (label, bytes, expect) in cases {
            let path = try Self.file("lying.wav", bytes)
            for pipe in [true, false] {
                let result = try run(path, pipe: pipe)
                let where_ = "\(label) (\(pipe ? "pipe" : "file"))"
                switch expect {
                case .frames(let frames):
                    XCTAssertEqual(result.status, 0, "\(where_): \(result.stderr)")
                    // Decoding a made-up GSM block may come out loud enough to be clamped: that is reported.
                    XCTAssertTrue(result.stderr.isEmpty || result.stderr.hasSuffix("samples clamped to the 16-bit range\n"),
                                  "\(where_): \(result.stderr)")
                    if label.hasPrefix("GSM"), pipe {
                        // From a pipe the decoder is stopped within one 320-frame block of the end.
                        XCTAssertLessThanOrEqual(result.outputFrames ?? .max, 2 * frames, where_)
                        XCTAssertGreaterThanOrEqual(result.outputFrames ?? 0, frames, where_)
                    } else {
                        XCTAssertEqual(result.outputFrames, frames, where_)
                    }
                case .error(let message):
                    assertOneLineError(result, message, where_)
                }
                assertSmallAndQuick(result, where_)
            }
        }
    }

    static func be32(_ value: UInt32) -> [UInt8] { le32(value).reversed() }

    /// An AU header (`.snd`, or libsndfile's little-endian `dns.`) over `sine16` as big- or
    /// little-endian 16-bit linear PCM, whose data offset and size may lie.
    static func au(offset: UInt32 = 24, size: UInt32? = nil, littleEndian: Bool = false) -> [UInt8] {
        let word = littleEndian ? le32 : be32
        let samples = littleEndian ? sine16 : stride(from: 0, to: sine16.count, by: 2).flatMap { [sine16[$0 + 1], sine16[$0]] }
        return Array((littleEndian ? "dns." : ".snd").utf8) + word(offset) + word(size ?? UInt32(samples.count))
            + word(3) + word(16_000) + word(1) + samples
    }

    /// AU headers whose data size or offset is implausible for the input: libsndfile opens them
    /// as 0 frames and reads nothing (exit 0 and an empty output, before). Each is the audio that
    /// is there or one line naming the sizes, from a pipe, from `< file` and from `-i`.
    func testAUHeadersWhoseSizesLie() throws {
        enum Expect { case frames(Int), error(String) }
        let cases: [(String, [UInt8], Expect)] = [
            ("size 2^31 - 1", Self.au(size: 0x7FFF_FFFF),
             .error("invalid AU header: it states 2147483647 bytes of audio from byte 24")),
            ("size 2^32 - 2", Self.au(size: 0xFFFF_FFFE), .error("it states 4294967294 bytes of audio from byte 24")),
            ("size 2^31, little-endian", Self.au(size: 0x8000_0000, littleEndian: true),
             .error("it states 2147483648 bytes of audio from byte 24")),
            ("offset past the end", Self.au(offset: 1_000_000),
             .error("invalid AU header: its audio starts at byte 1000000, past the end of the 2024-byte input")),
            ("offset 2^31 - 1", Self.au(offset: 0x7FFF_FFFF), .error("invalid AU header")),
            ("size 50 times the file", Self.au(size: 100_000), .frames(1000)),
            ("size unknown", Self.au(size: 0xFFFF_FFFF), .frames(1000)),
            ("size 10 bytes", Self.au(size: 10), .frames(5)),
        ]
        for (label, bytes, expect) in cases {
            let path = try Self.file("lying.au", bytes)
            var runs = [("pipe", try run(path, pipe: true)), ("< file", try run(path, pipe: false))]
            let named = try Harness.shell("timeout 60 $BIN --engine identity -i \(path) > \(Harness.path("lying-au-i.wav"))")
            runs.append(("-i", Run(status: named.status, stderr: named.stderr,
                                   outputFrames: named.status == 0 ? try Harness.readAudio(Harness.path("lying-au-i.wav")).channels[0].count : nil,
                                   peakMB: 0, seconds: named.seconds)))
            for (how, result) in runs {
                switch expect {
                case .frames(let frames):
                    XCTAssertEqual(result.status, 0, "\(label) (\(how)): \(result.stderr)")
                    XCTAssertEqual(result.stderr, "", "\(label) (\(how))")
                    XCTAssertEqual(result.outputFrames, frames, "\(label) (\(how))")
                case .error(let message):
                    assertOneLineError(result, message, "\(label) (\(how))")
                }
            }
        }
    }

    /// The other formats' data sizes larger than the file (up to 4 GiB, and 2^62 in W64): libsndfile
    /// reads the audio that is there, from a pipe and from a file.
    func testAIFFAndW64DataSizesLargerThanTheFileReadWhatIsThere() throws {
        for type in ["aiff", "w64", "wav"] {
            let clean = Harness.path("size-lie.\(type)")
            try Harness.shell("sox -n -r 8000 -c 1 -b 16 \(clean) synth 1 sine 440")
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: clean)))
            let tag: [UInt8] = type == "aiff" ? Array("SSND".utf8) : type == "w64"
                ? Array("data".utf8) + [0xF3, 0xAC, 0xD3, 0x11] : Array("data".utf8)
            guard let at = (0...(bytes.count - tag.count)).first(where: { Array(bytes[$0..<($0 + tag.count)]) == tag }) else {
                return XCTFail("no data chunk in \(type)")
            }
            for size in [UInt64(20_000), 0x7FFF_FFF0, 0x8000_0010, 0xFFFF_FFF0, 1 << 62] where type == "w64" || size < 1 << 32 {
                switch type {
                case "aiff": bytes.replaceSubrange((at + 4)..<(at + 8), with: Self.be32(UInt32(size)))
                case "w64": bytes.replaceSubrange((at + 16)..<(at + 24), with: (0..<8).map { UInt8((size >> (8 * $0)) & 0xFF) })
                default: bytes.replaceSubrange((at + 4)..<(at + 8), with: Self.le32(UInt32(size)))
                }
                let path = try Self.file("size-lie-\(size).\(type)", bytes)
                for pipe in [true, false] {
                    let result = try run(path, pipe: pipe)
                    let label = "\(type) data size \(size) (\(pipe ? "pipe" : "file"))"
                    XCTAssertEqual(result.status, 0, "\(label): \(result.stderr)")
                    XCTAssertEqual(result.outputFrames, 8000, label)
                }
            }
        }
    }

    /// 24 bytes that made libsndfile's W64 parser loop for ever on a pipe.
    func testAW64HeaderThatLoopedLibsndfileIsAnError() throws {
        let bytes: [UInt8] = Array("riff".utf8) + [0x2A, 0x91, 0x8E, 0x01] + [UInt8](repeating: 0, count: 8) + [0x0F, 0, 0, 0, 0, 0, 0, 0]
        let path = try Self.file("loop.w64", bytes)
        for pipe in [true, false] {
            let result = try run(path, pipe: pipe)
            assertOneLineError(result, "W64", "W64, pipe \(pipe)")
            assertSmallAndQuick(result, "W64")
        }
    }

    func testAFileCutMidSampleKeepsEveryWholeFrame() throws {
        let input = Harness.path("cut24.wav")
        try Harness.shell("sox -n -r 32000 -c 2 -b 24 \(input) synth 1 sine 500")
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: input)))
        let header = whole.count - 32_000 * 6
        for frames in [0, 1, 777] {
            let cut = try Self.file("cut24-\(frames).wav", Array(whole.prefix(header + frames * 6 + 4)))
            for pipe in [true, false] {
                let result = try run(cut, pipe: pipe)
                XCTAssertEqual(result.status, 0, result.stderr)
                XCTAssertEqual(result.outputFrames, frames, "cut 4 bytes into frame \(frames), pipe \(pipe)")
            }
        }
    }

    /// NaN and ±Inf are replaced by 0 and counted, and never reach a model: a NaN inside the
    /// network would spread over its whole window, so every output sample being finite (and
    /// the rest of the output unchanged) shows the engine never saw one.
    func testNaNAndInfinityAreZeroedCountedAndNeverReachTheModel() throws {
        let format = try SampleFormat(encoding: .floatingPoint, bits: 32)
        var samples = (0..<32_000).map { Float(0.3 * sin(Double($0) * 0.05)) }
        for (index, frame) in [10, 5000, 20_000, 31_999].enumerated() {
            samples[frame] = [Float.nan, .infinity, -.infinity, .nan][index]
        }
        let wav = Harness.path("nonfinite.wav"), raw = Harness.path("nonfinite.f32")
        let sink = try WAVSink(output: try OutputFile(path: wav), sampleRate: 44_100, channelCount: 1, format: format)
        try sink.write([samples])
        try sink.finish()
        var bytes: [UInt8] = []
        SampleCodec(format: format, channelCount: 1).encode([samples], into: &bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: raw))

        let fixtures = AudioSepEndToEndTests.fixtures
        let engines = [
            ("identity (resampled)", "--engine identity < \(wav)"),
            ("built-in", "vocals < \(wav)"),
            ("AudioSep", "--engine audiosep --model \(fixtures)/tiny.ckpt --embedding \(fixtures)/embedding.f32 -t raw -r 32000 -c 1 -b 32 -e float < \(raw)"),
        ]
        for (label, arguments) in engines {
            let output = Harness.path("nonfinite-out.wav")
            let result = try Harness.shell("HOME=/nonexistent AUDIOSEP_MODEL= $BIN \(arguments) > \(output)")
            XCTAssertEqual(result.status, 0, "\(label): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("audiosep-stream: 4 NaN or infinite input samples replaced by 0"), "\(label): \(result.stderr)")
            let decoded = try Harness.readAudio(output).channels[0]
            XCTAssertEqual(decoded.count, 32_000, label)
            XCTAssertTrue(decoded.allSatisfy(\.isFinite), "\(label): a non-finite sample came out")
            XCTAssertGreaterThan(decoded.map(abs).max() ?? 0, 0.01, "\(label): the rest of the signal is still there")
        }
    }

    func testFullScaleSquareWavesAreClampedAndReported() throws {
        let input = Harness.path("square.wav"), output = Harness.path("square-out.wav")
        // Every sample at the 16-bit extremes (sox's synth stops short of full scale): 441 and 1050 Hz.
        let high: Float = 32_767.0 / 32_768, low: Float = -1
        let square = [50, 21].map { half in (0..<88_200).map { ($0 / half) % 2 == 0 ? high : low } }
        let sink = try WAVSink(output: try OutputFile(path: input), sampleRate: 44_100, channelCount: 2,
                               format: try SampleFormat(encoding: .signedInteger, bits: 16))
        try sink.write(square)
        try sink.finish()
        XCTAssertEqual(sink.clampedSamples, 0, "the input itself is in range")
        // 44.1 → 48 kHz: the resampler's ringing on full-scale edges overshoots.
        let result = try Harness.shell("$BIN --engine identity --out-rate 48k < \(input) > \(output)")
        XCTAssertEqual(result.status, 0, result.stderr)
        let reported = result.stderr.components(separatedBy: " samples clamped to the 16-bit range").first?
            .components(separatedBy: "audiosep-stream: ").last.flatMap { Int($0) }
        XCTAssertGreaterThan(reported ?? 0, 100, "the clamped count is on stderr: \(result.stderr)")
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        let decoded = try Harness.readAudio(output)
        XCTAssertEqual(decoded.channels[0].count, 96_000)
        XCTAssertTrue(decoded.channels.allSatisfy { $0.allSatisfy { $0 >= -1 && $0 < 1 } })
        XCTAssertGreaterThan(decoded.channels[0].filter { $0 <= -1 || $0 >= 32_767.0 / 32_768 }.count, 100, "held at full scale")
        // Float output is never clamped, so nothing is reported.
        let float = try Harness.shell("$BIN --engine identity --out-rate 48k --out-bits 32 --out-encoding float < \(input) > /dev/null")
        XCTAssertEqual(float.status, 0)
        XCTAssertEqual(float.stderr, "")
    }

    func testARawStreamThatIsNotAWholeNumberOfFrames() throws {
        for (bytes, channels, bits, frames, dropped) in [(1001, 2, 16, 250, 1), (3, 2, 16, 0, 3), (1_000_005, 3, 24, 111_111, 6)] {
            let result = try Harness.shell(
                "head -c \(bytes) /dev/urandom | $BIN --engine identity -t raw -r 32000 -c \(channels) -b \(bits) -e signed --out-type raw | wc -c")
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(Int(String(decoding: result.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
                           frames * channels * bits / 8, "\(bytes) bytes of \(channels) × \(bits) bits")
            XCTAssertEqual(result.stderr, "audiosep-stream: dropped \(dropped) trailing bytes that did not make a whole frame\n")
        }
    }

    /// A full disk: one line naming the system's reason and a non-zero exit, whether the output
    /// is a path (-o) or stdout, WAV or raw, short or long.
    func testAFullDiskIsOneClearError() throws {
        let input = Harness.path("disk-full.wav")
        try Harness.shell("sox -n -r 32000 -c 2 -b 16 \(input) synth 30 sine 440")
        for command in ["$BIN --engine identity -i \(input) -o /dev/full", "$BIN --engine identity < \(input) > /dev/full",
                        "$BIN --engine identity --out-type raw < \(input) > /dev/full",
                        "cat \(input) | $BIN --engine identity --chunk 1 --overlap 0.1 > /dev/full"] {
            let result = try Harness.shell(command)
            assertOneLineError(Run(status: result.status, stderr: result.stderr, peakMB: 0, seconds: result.seconds),
                               "writing output failed: No space left on device", command)
            XCTAssertLessThan(result.seconds, 20, command)
        }
    }

    /// A disk that fills up part-way: the file keeps what fit, with a header that says so.
    func testAFileSystemThatFillsUpKeepsWhatFitWithATrueHeader() throws {
        let mount = Harness.path("small-disk")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        guard try Harness.shell("mount -t tmpfs -o size=200k tmpfs \(mount)").status == 0 else {
            throw XCTSkip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
        }
        defer { _ = try? Harness.shell("umount \(mount)") }
        let input = Harness.path("fills-up.wav")
        try Harness.shell("sox -n -r 16000 -c 1 -b 16 \(input) synth 20 sine 440 vol 0.5")
        let run = try Harness.shell("$BIN --engine identity -i \(input) -o \(mount)/out.wav")
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("No space left on device"), run.stderr)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(mount)/out.wav"))
        let stated = bytes[40..<44].withUnsafeBytes { Int($0.loadUnaligned(as: UInt32.self)) }
        XCTAssertEqual(stated, (bytes.count - 44) / 2 * 2, "the header does not say what the file holds")
        XCTAssertGreaterThan(stated, 100_000)
        let frames = try Harness.readAudio("\(mount)/out.wav").channels.first?.count
        XCTAssertEqual(frames, stated / 2)
    }
}
