import Foundation
import Stream
import TestSupport
import XCTest

/// sox → audiosep-stream → file, through the real binary, with `--engine identity`: the
/// output must be as long as the input, aligned with it, and equal to it (the identity engine
/// works at the input's own rate, so nothing is resampled unless --out-rate asks for it).
final class PipelineEndToEndTests: XCTestCase {
    /// sox's synth: two tones below every Nyquist used here, faded in and out so the test signal is band-limited.
    static let synth = "synth 3 sine 300 sine 1100 vol 0.7 fade 0.05 3 0.05"

    struct Case {
        var rate: Int, channels: Int, bits: Int, encoding: String
        var raw = false
        var endian = "little"
    }

    func testWAVInputsOfEveryCommonKind() throws {
        let cases = [
            Case(rate: 8000, channels: 1, bits: 8, encoding: "unsigned-integer"),
            Case(rate: 44_100, channels: 1, bits: 16, encoding: "signed-integer"),
            Case(rate: 48_000, channels: 2, bits: 24, encoding: "signed-integer"),
            Case(rate: 96_000, channels: 6, bits: 32, encoding: "signed-integer"),
            Case(rate: 22_050, channels: 2, bits: 32, encoding: "floating-point"),
            Case(rate: 16_000, channels: 2, bits: 64, encoding: "floating-point"),
            Case(rate: 32_000, channels: 1, bits: 16, encoding: "signed-integer"),
        ]
        for c in cases { try check(c) }
    }

    func testRawInputsOfEveryCommonKind() throws {
        let cases = [
            Case(rate: 44_100, channels: 2, bits: 16, encoding: "signed-integer", raw: true),
            Case(rate: 8000, channels: 1, bits: 8, encoding: "unsigned-integer", raw: true),
            Case(rate: 48_000, channels: 6, bits: 32, encoding: "floating-point", raw: true, endian: "big"),
            Case(rate: 96_000, channels: 2, bits: 24, encoding: "signed-integer", raw: true),
            Case(rate: 32_000, channels: 1, bits: 32, encoding: "signed-integer", raw: true, endian: "big"),
        ]
        for c in cases { try check(c) }
    }

    /// Runs one case through `cat input | audiosep-stream … > output` and compares.
    func check(_ c: Case) throws {
        let name = "\(c.raw ? "raw" : "wav")-\(c.rate)-\(c.channels)-\(c.bits)-\(c.encoding)-\(c.endian)"
        let input = Harness.path("\(name).in"), output = Harness.path("\(name).out")
        let endianFlag = c.endian == "big" ? "-B" : "-L"
        let made = try Harness.shell(
            "sox -n -r \(c.rate) -c \(c.channels) -b \(c.bits) -e \(c.encoding) \(endianFlag) -t \(c.raw ? "raw" : "wav") \(input) \(Self.synth)")
        XCTAssertEqual(made.status, 0, made.stderr)
        let rawFlags = c.raw ? "-t raw -r \(c.rate) -c \(c.channels) -b \(c.bits) -e \(c.encoding) --endian \(c.endian) --out-type raw" : ""
        let run = try Harness.shell("cat \(input) | $BIN --engine identity --chunk 1 --overlap 0.2 \(rawFlags) > \(output)")
        XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
        XCTAssertTrue(run.stderr.isEmpty, "\(name): nothing on stderr when it is not a terminal: \(run.stderr)")

        let expected: [[Float]], actual: [[Float]]
        if c.raw {
            let format = try SampleFormat(encoding: SampleFormat.parseEncoding(c.encoding), bits: c.bits,
                                          endian: c.endian == "big" ? .big : .little)
            expected = try Harness.readRaw(input, channels: c.channels, format: format)
            actual = try Harness.readRaw(output, channels: c.channels, format: format)
            let bytes = try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int
            XCTAssertEqual(bytes, try FileManager.default.attributesOfItem(atPath: input)[.size] as? Int, "\(name): raw length in bytes")
        } else {
            let source = try Harness.readAudio(input), result = try Harness.readAudio(output)
            XCTAssertEqual(result.rate, c.rate, name)
            XCTAssertEqual(result.format, source.format, "\(name): output keeps the input's sample format")
            expected = source.channels
            actual = result.channels
        }
        XCTAssertEqual(actual.count, c.channels, name)
        XCTAssertEqual(actual.first?.count, expected.first?.count, "\(name): output exactly as long as the input")
        for channel in 0..<c.channels {
            let quality = snr(expected[channel], actual[channel])
            XCTAssertGreaterThanOrEqual(quality, 50, "\(name) channel \(channel)")
        }
    }

    func testOutputRateAndSampleFormatOverrides() throws {
        let input = Harness.path("override.wav")
        try Harness.shell("sox -n -r 44100 -c 2 -b 16 \(input) \(Self.synth)")
        let output = Harness.path("override-out.wav")
        let run = try Harness.shell("$BIN --engine identity -i \(input) -o \(output) --out-rate 48000 --out-bits 32 --out-encoding float")
        XCTAssertEqual(run.status, 0, run.stderr)
        let result = try Harness.readAudio(output)
        XCTAssertEqual(result.rate, 48_000)
        XCTAssertEqual(result.format.encoding, .floatingPoint)
        XCTAssertEqual(result.channels[0].count, 3 * 48_000)
        // The same tones synthesised at 48 kHz are the reference.
        let reference = Harness.path("override-ref.wav")
        try Harness.shell("sox -n -r 48000 -c 2 -b 32 -e float \(reference) \(Self.synth)")
        let expected = try Harness.readAudio(reference)
        XCTAssertGreaterThan(snr(expected.channels[0], result.channels[0]), 50)
    }

    func testWAVOnAPipeSaysUnknownLengthOnlyWhenItIsAndOnAFileTheTrueOne() throws {
        let input = Harness.path("len.wav")
        try Harness.shell("sox -n -r 32000 -c 1 -b 16 \(input) synth 1.5 sine 440")
        func dataLength(_ data: Data) -> Int { data[40..<44].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) } }
        // The input's length is known in advance: the piped header says it, as sox's does.
        let piped = try Harness.shell("$BIN --engine identity < \(input) | cat")
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(dataLength(piped.stdout), 48_000 * 2, "the length was known; the header on the pipe must say it")
        XCTAssertEqual(piped.stdout.count, 44 + 48_000 * 2)
        // Raw input on a pipe: the length is not known until the end, so the header says 'unknown'.
        let raw = try Harness.shell("sox \(input) -t raw - | $BIN --engine identity -t raw -r 32k -c 1 -b 16 -e signed | cat")
        XCTAssertEqual(raw.status, 0, raw.stderr)
        XCTAssertEqual(dataLength(raw.stdout), 0x7FFF_F000, "on a pipe an unknown length is sox's 'unknown'")
        XCTAssertEqual(raw.stdout.count, 44 + 48_000 * 2)
        let file = Harness.path("len-out.wav")
        let written = try Harness.shell("$BIN --engine identity < \(input) > \(file) && soxi -s \(file)")
        XCTAssertEqual(written.status, 0, written.stderr)
        XCTAssertEqual(String(decoding: written.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "48000",
                       "stdout redirected to a file gets its header patched")
    }

    func testRemoveDownmixAndSoxReadsOurOutput() throws {
        let input = Harness.path("stereo.wav")
        try Harness.shell("sox -n -r 44100 -c 2 -b 16 \(input) \(Self.synth)")
        let removed = try Harness.shell("$BIN --engine identity --remove --chunk 1 --overlap 0.25 < \(input) | sox -t wav - -n stat 2>&1 | grep 'Maximum amplitude'")
        XCTAssertEqual(removed.status, 0, removed.stderr)
        let amplitude = Double(String(decoding: removed.stdout, as: UTF8.self).split(separator: ":").last!.trimmingCharacters(in: .whitespacesAndNewlines))!
        XCTAssertLessThan(amplitude, 0.01, "the mixture minus an identity separation is (nearly) silent")

        let mixed = Harness.path("mixed.wav")
        let run = try Harness.shell("$BIN --engine identity --downmix < \(input) > \(mixed)")
        XCTAssertEqual(run.status, 0, run.stderr)
        let result = try Harness.readAudio(mixed), source = try Harness.readAudio(input)
        XCTAssertEqual(result.channels.count, 2)
        XCTAssertEqual(result.channels[0], result.channels[1], "the mono result goes to every channel")
        let mono = zip(source.channels[0], source.channels[1]).map { ($0 + $1) / 2 }
        XCTAssertGreaterThan(snr(mono, result.channels[0]), 50)
    }

    func testFLACFromAPathAndTruncatedInputStaysValid() throws {
        let flac = Harness.path("in.flac")
        try Harness.shell("sox -n -r 48000 -c 2 -b 16 \(flac) \(Self.synth)")
        for (how, command) in [("path", "$BIN --engine identity -i \(flac)"), ("pipe", "cat \(flac) | $BIN --engine identity")] {
            let out = Harness.path("flac-\(how).wav")
            let run = try Harness.shell("\(command) > \(out) && soxi -s \(out)")
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "144000", how)
        }
        // AIFF, AU and multichannel WAV with a header, all through a pipe.
        for type in ["aiff", "au", "w64"] {
            let file = Harness.path("in.\(type)")
            try Harness.shell("sox -n -r 22050 -c 6 -b 16 \(file) synth 1 sine 300")
            let out = Harness.path("\(type).wav")
            let run = try Harness.shell("cat \(file) | $BIN --engine identity > \(out) && soxi -s \(out)")
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "22050", type)
        }

        // A WAV cut in the middle of a sample: processed up to where it ends, output valid.
        let wav = Harness.path("cut.wav")
        try Harness.shell("sox -n -r 32000 -c 2 -b 16 \(wav) synth 2 sine 500")
        let cut = Harness.path("cut-out.wav")
        let truncated = try Harness.shell("head -c 100003 \(wav) | $BIN --engine identity > \(cut) && soxi -s \(cut)")
        XCTAssertEqual(truncated.status, 0, truncated.stderr)
        let frames = Int(String(decoding: truncated.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(frames, (100_003 - 44) / 4, "every whole frame that arrived is in the output")
    }

    /// A piped WAV whose header states its length, cut short, written to a pipe: the header on the
    /// pipe already promised the stated length, so the stream is padded with silence to it (never
    /// a stream shorter than its header), and one line names both lengths.
    func testATruncatedInputOnAPipeIsPaddedToTheLengthItsHeaderPromised() throws {
        let wav = Harness.path("promise.wav"), out = Harness.path("promise-out.wav")
        try Harness.shell("sox -n -r 32000 -c 2 -b 16 \(wav) synth 2 sine 500")
        let run = try Harness.shell("head -c 100003 \(wav) | $BIN --engine identity | cat > \(out)")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stderr, "audiosep-stream: the input's header promised 2.00 s (64000 frames) but only 0.78 s "
                       + "(24989 frames) arrived; the output is padded with 1.22 s of silence to the length its WAV header "
                       + "already stated on the pipe\n")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        let stated = bytes[40..<44].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(stated, 64_000 * 4, "the header promised the input's stated length")
        XCTAssertEqual(bytes.count - 44, stated, "the stream is as long as its header says")
        let output = try Harness.readAudio(out), input = try Harness.readAudio(wav)
        XCTAssertEqual(output.channels[0].count, 64_000)
        XCTAssertEqual(Array(output.channels[1][0..<24_989]), Array(input.channels[1][0..<24_989]), "the audio that arrived")
        XCTAssertTrue(output.channels.allSatisfy { $0[24_989...].allSatisfy { $0 == 0 } }, "then silence")
    }

    func testClampedSamplesAreReported() throws {
        let raw = Harness.path("loud.f32")
        var bytes: [UInt8] = []
        SampleCodec(format: try SampleFormat(encoding: .floatingPoint, bits: 32), channelCount: 1)
            .encode([[Float](repeating: 0.5, count: 1000) + [2, -3, 1.5] + [Float](repeating: 0, count: 1000)], into: &bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: raw))
        let run = try Harness.shell("$BIN --engine identity -t raw -r 32000 -c 1 -b 32 -e float --out-bits 16 < \(raw) > /dev/null")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("3 samples clamped to the 16-bit range"), run.stderr)
        let quiet = try Harness.shell("$BIN -q --engine identity -t raw -r 32000 -c 1 -b 32 -e float --out-bits 16 < \(raw) > /dev/null")
        XCTAssertEqual(quiet.stderr, "")
    }
}
