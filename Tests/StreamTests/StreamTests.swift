import Foundation
import Overlap
import Separation
import Stream
import TestSupport
import XCTest

func temporaryPath(_ name: String) -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("audiosep-stream-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent(name).path
}

/// A band-limited test signal: two sines well below every Nyquist frequency used, faded in and out.
func tones(frames: Int, rate: Int, channels: Int) -> [[Float]] {
    (0..<channels).map { channel in
        (0..<frames).map { frame in
            let t = Double(frame) / Double(rate)
            let fade = min(1, Double(frame) / (0.05 * Double(rate)), Double(frames - 1 - frame) / (0.05 * Double(rate)))
            let value = 0.4 * sin(2 * .pi * (330 + 110 * Double(channel)) * t) + 0.3 * sin(2 * .pi * 1230 * t)
            return Float(max(0, fade) * value)
        }
    }
}

final class SampleCodecTests: XCTestCase {
    func testEveryFormatRoundTripsWithinItsPrecision() throws {
        let input = tones(frames: 500, rate: 8000, channels: 3)
        for encoding in SampleFormat.Encoding.allCases {
            for bits in encoding == .floatingPoint ? [32, 64] : [8, 16, 24, 32] {
                for endian in SampleFormat.Endian.allCases {
                    let format = try SampleFormat(encoding: encoding, bits: bits, endian: endian)
                    let codec = SampleCodec(format: format, channelCount: 3)
                    var bytes: [UInt8] = []
                    XCTAssertEqual(codec.encode(input, into: &bytes), 0)
                    XCTAssertEqual(bytes.count, 500 * 3 * bits / 8)
                    let decoded = bytes.withUnsafeBytes { codec.decode($0, frames: 500) }
                    let tolerance = encoding == .floatingPoint ? 0 : 0.5 / Double(1 << (bits - 1)) + 1e-7
                    for channel in 0..<3 {
                        let error = zip(decoded[channel], input[channel]).map { Double(abs($0 - $1)) }.max()!
                        XCTAssertLessThanOrEqual(error, tolerance, "\(format)")
                    }
                }
            }
        }
    }

    func testIntegerLayoutMatchesSoxConventions() throws {
        let s16be = SampleCodec(format: try SampleFormat(encoding: .signedInteger, bits: 16, endian: .big), channelCount: 1)
        var bytes: [UInt8] = []
        s16be.encode([[0.5, -1, 0]], into: &bytes)
        XCTAssertEqual(bytes, [0x40, 0x00, 0x80, 0x00, 0x00, 0x00])
        let u8 = SampleCodec(format: try SampleFormat(encoding: .unsignedInteger, bits: 8), channelCount: 1)
        bytes = []
        u8.encode([[0, -1, 0.5]], into: &bytes)
        XCTAssertEqual(bytes, [128, 0, 192])
        let s24 = SampleCodec(format: try SampleFormat(encoding: .signedInteger, bits: 24), channelCount: 1)
        let decoded = [UInt8]([0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x80]).withUnsafeBytes { s24.decode($0, frames: 2) }
        XCTAssertEqual(decoded[0], [-1.0 / 8_388_608, -1])
    }

    func testIntegerOutputIsClampedAndCounted() throws {
        let codec = SampleCodec(format: try SampleFormat(encoding: .signedInteger, bits: 16), channelCount: 2)
        var bytes: [UInt8] = []
        let clamped = codec.encode([[1.0, 2.0, -1.0], [-3.0, .nan, 0.999]], into: &bytes)
        XCTAssertEqual(clamped, 3, "1.0, 2.0 and -3.0 fall outside [-32768, 32767]")
        let float = SampleCodec(format: try SampleFormat(encoding: .floatingPoint, bits: 32), channelCount: 1)
        bytes = []
        XCTAssertEqual(float.encode([[4.0, -7.5]], into: &bytes), 0, "float output is never clipped")
        XCTAssertEqual(bytes.withUnsafeBytes { float.decode($0, frames: 2) }[0], [4.0, -7.5])
    }

    func testUnsupportedWidthsAreRejected() {
        XCTAssertThrowsError(try SampleFormat(encoding: .floatingPoint, bits: 16)) {
            XCTAssertEqual($0 as? StreamError, .unsupportedSampleFormat(encoding: "floating-point", bits: 16))
        }
        XCTAssertThrowsError(try SampleFormat(encoding: .signedInteger, bits: 12))
        XCTAssertThrowsError(try SampleFormat.parseEncoding("mu-law"))
        XCTAssertEqual(try SampleFormat.parseEncoding("signed"), .signedInteger)
        XCTAssertEqual(try SampleFormat.parseEncoding("float"), .floatingPoint)
    }
}

final class WAVTests: XCTestCase {
    /// Our writer's output, read back by libsndfile: every format and layout, lengths patched.
    func testWrittenFilesReadBackThroughLibsndfile() throws {
        let cases: [(SampleFormat.Encoding, Int)] = [(.unsignedInteger, 8), (.signedInteger, 16), (.signedInteger, 24),
                                                    (.signedInteger, 32), (.floatingPoint, 32), (.floatingPoint, 64)]
        for (encoding, bits) in cases {
            for channels in [1, 2, 6] {
                let path = temporaryPath("wav-\(bits)-\(encoding)-\(channels).wav")
                let input = tones(frames: 777, rate: 22_050, channels: channels)
                let format = try SampleFormat(encoding: encoding, bits: bits)
                do {
                    let sink = try WAVSink(output: try OutputFile(path: path), sampleRate: 22_050, channelCount: channels, format: format)
                    try sink.write(input.map { Array($0[0..<300]) })
                    try sink.write(input.map { Array($0[300...]) })
                    try sink.finish()
                }
                let source = try SndfileSource(.path(path))
                XCTAssertEqual(source.description.sampleRate, 22_050)
                XCTAssertEqual(source.description.channelCount, channels)
                XCTAssertEqual(source.description.knownFrames, 777, "the header was patched with the true length")
                XCTAssertEqual(source.description.sampleFormat.bits, bits)
                XCTAssertEqual(source.description.sampleFormat.encoding, encoding)
                let decoded = try source.read(maxFrames: 10_000)
                // Within half a quantisation step (libsndfile reads integers as v / 2^(b−1), as we write them).
                let tolerance = encoding == .floatingPoint ? 0 : 0.5 / Double(1 << (bits - 1)) + 1e-7
                for channel in 0..<channels {
                    let error = zip(decoded[channel], input[channel]).map { Double(abs($0 - $1)) }.max()!
                    XCTAssertLessThanOrEqual(error, tolerance, "\(bits)-bit \(encoding), \(channels) channels")
                }
            }
        }
    }

    func testPipeHeaderSaysUnknownLengthLikeSox() throws {
        let header = try WAVSink.header(sampleRate: 44_100, channelCount: 2, format: try SampleFormat(encoding: .signedInteger, bits: 16), dataBytes: nil)
        XCTAssertEqual(header.count, 44)
        let dataLength = header[40..<44].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
        XCTAssertEqual(dataLength, 0x7FFF_F000)
    }

    func testWAVRejectsSignedEightAndUnsignedWideSamples() throws {
        let path = temporaryPath("bad.wav")
        XCTAssertThrowsError(try WAVSink(output: try OutputFile(path: path), sampleRate: 8000, channelCount: 1,
                                         format: try SampleFormat(encoding: .unsignedInteger, bits: 16))) {
            XCTAssertEqual($0 as? StreamError, .unsupportedInWAV(encoding: "unsigned-integer", bits: 16))
        }
    }
}

final class ResamplerTests: XCTestCase {
    func testRoundTripIsAlignedAndExactInLength() throws {
        for (rate, engineRate) in [(8000, 32_000), (44_100, 32_000), (96_000, 32_000), (32_000, 32_000)] {
            let input = tones(frames: rate / 2 + 17, rate: rate, channels: 1)
            let up = try Resampler(from: rate, to: engineRate, channelCount: 1, quality: .best)
            let down = try Resampler(from: engineRate, to: rate, channelCount: 1, quality: .best)
            var middle = try up.process(input)
            middle[0] += try up.process([[]], endOfInput: true)[0]
            let expectedMiddle = Double(input[0].count) * Double(engineRate) / Double(rate)
            XCTAssertEqual(Double(middle[0].count), expectedMiddle, accuracy: 1.5)
            var output = try down.process(middle)
            output[0] += try down.process([[]], endOfInput: true)[0]
            XCTAssertEqual(output[0].count, input[0].count, accuracy: 2)
            XCTAssertGreaterThan(snr(input[0], output[0]), 80, "\(rate) → \(engineRate) → \(rate)")
        }
    }

    func testBlockSizeDoesNotChangeTheResult() throws {
        let input = tones(frames: 20_000, rate: 44_100, channels: 2)
        func convert(blocks: Int) throws -> [[Float]] {
            let resampler = try Resampler(from: 44_100, to: 32_000, channelCount: 2, quality: .medium)
            var output: [[Float]] = [[], []]
            var position = 0
            while position < 20_000 {
                let end = min(20_000, position + blocks)
                let part = try resampler.process(input.map { Array($0[position..<end]) })
                for channel in 0..<2 { output[channel] += part[channel] }
                position = end
            }
            let tail = try resampler.process([[], []], endOfInput: true)
            for channel in 0..<2 { output[channel] += tail[channel] }
            return output
        }
        let whole = try convert(blocks: 20_000)
        for blocks in [1, 100, 4096] {
            let parts = try convert(blocks: blocks)
            XCTAssertEqual(parts[0].count, whole[0].count)
            XCTAssertGreaterThan(snr(whole[0], parts[0]), 120, "block size \(blocks)")
        }
    }

    /// Converts a whole signal in one block, plus the drain.
    func convert(_ input: [Float], from: Int, to: Int, quality: ResampleQuality) throws -> [Float] {
        let resampler = try Resampler(from: from, to: to, channelCount: 1, quality: quality)
        return try resampler.process([input])[0] + resampler.process([[]], endOfInput: true)[0]
    }

    /// Sines at fractions of `band` hz (inside every design's passband), faded in and out.
    func passbandTones(seconds: Double, rate: Int, band: Double) -> [Float] {
        let frames = Int(seconds * Double(rate))
        return (0..<frames).map { frame in
            let t = Double(frame) / Double(rate)
            let fade = min(1, Double(frame) / (0.05 * Double(rate)), Double(frames - 1 - frame) / (0.05 * Double(rate)))
            let value = [0.02, 0.1, 0.25, 0.38].reduce(0.0) { $0 + 0.2 * sin(2 * .pi * $1 * band * t) }
            return Float(max(0, fade) * value)
        }
    }

    func testCommonRatiosRunOnThePolyphaseTablesAndOddOnesOnLibsamplerate() throws {
        for rate in [8000, 11_025, 16_000, 22_050, 24_000, 44_100, 48_000, 88_200, 96_000, 192_000] {
            for quality in [ResampleQuality.medium, .fast] {
                XCTAssertEqual(try Resampler(from: rate, to: 32_000, channelCount: 1, quality: quality).converterName, "polyphase", "\(rate)")
                XCTAssertEqual(try Resampler(from: 32_000, to: rate, channelCount: 1, quality: quality).converterName, "polyphase", "\(rate)")
            }
            XCTAssertEqual(try Resampler(from: rate, to: 32_000, channelCount: 1, quality: .best).converterName, "libsamplerate")
        }
        XCTAssertEqual(try Resampler(from: 44_101, to: 32_000, channelCount: 1, quality: .medium).converterName, "libsamplerate")
        XCTAssertEqual(try Resampler(from: 32_000, to: 32_000, channelCount: 1, quality: .medium).converterName, "none")
        XCTAssertEqual(ResampleQuality.standard, .medium)
    }

    func testPolyphaseRoundTripsKeepTheirDesignsPromise() throws {
        // Error of a round trip through 32 kHz, edges (the fades) excluded: medium's 125 dB design
        // must stay far below 16-bit output's 98 dB floor, fast's 100 dB design at it.
        for rate in [8000, 16_000, 44_100, 48_000, 96_000] {
            let input = passbandTones(seconds: 1.5, rate: rate, band: Double(min(rate, 32_000)))
            for (quality, floor) in [(ResampleQuality.medium, 120.0), (.fast, 98.0)] {
                let middle = try convert(input, from: rate, to: 32_000, quality: quality)
                XCTAssertEqual(middle.count, (input.count * 32_000 + rate - 1) / rate, "\(rate) \(quality)")
                let output = try convert(middle, from: 32_000, to: rate, quality: quality)
                XCTAssertEqual(output.count, input.count, accuracy: 1, "\(rate) \(quality)")
                let inner = rate / 10 ..< input.count - rate / 10
                XCTAssertGreaterThan(snr(Array(input[inner]), Array(output[inner])), floor, "\(rate) → 32000 → \(rate), \(quality)")
            }
        }
    }

    func testPolyphaseAgreesWithLibsamplerateBestInTimeAndLevel() throws {
        // Both are zero-delay band-limited interpolators: one-way outputs differ only by their
        // stopband and passband ripples, so a shift of one sample (or a gain error) would show.
        let input = passbandTones(seconds: 1, rate: 44_100, band: 32_000)
        let polyphase = try convert(input, from: 44_100, to: 32_000, quality: .medium)
        let reference = try convert(input, from: 44_100, to: 32_000, quality: .best)
        XCTAssertEqual(polyphase.count, reference.count, accuracy: 1)
        let inner = 3200 ..< min(polyphase.count, reference.count) - 3200
        XCTAssertGreaterThan(snr(Array(reference[inner]), Array(polyphase[inner])), 110)
    }

    func testPolyphaseDownsamplingRejectsWhatWouldAlias() throws {
        // 48 → 16 kHz: a 12 kHz tone lies above the output's Nyquist frequency and must vanish
        // (medium promises 125 dB from the stopband edge, 8 kHz, on).
        let rate = 48_000
        let tone = (0..<rate).map { Float(0.5 * sin(2 * Double.pi * 12_000 * Double($0) / Double(rate))) }
        let output = try convert(tone, from: rate, to: 16_000, quality: .medium)
        let inner = output[1600 ..< output.count - 1600]
        let power = inner.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(inner.count)
        XCTAssertLessThan(10 * log10(power / 0.125), -120)
    }

    func testImpossibleRatiosAreTypedErrors() {
        XCTAssertThrowsError(try Resampler(from: 0, to: 32_000, channelCount: 1, quality: .best)) {
            XCTAssertEqual($0 as? StreamError, .invalidRate(hz: 0))
        }
        XCTAssertThrowsError(try Resampler(from: 1_000_000_000, to: 32_000, channelCount: 1, quality: .best))
    }
}

final class PipelineTests: XCTestCase {
    func testIdentityAtTheEngineRateIsExactForEveryGeometry() throws {
        let input = tones(frames: 32_000 * 3 + 123, rate: 32_000, channels: 2)
        for (chunk, overlap) in [(1.0, 0.1), (0.5, 0.25), (2.0, 0.0), (10.0, 1.0)] {
            for block in [1000, 4096, 50_000] {
                let (output, summary) = try runPipeline(input, rate: 32_000) {
                    $0.chunkSeconds = chunk; $0.overlapSeconds = overlap; $0.blockFrames = block
                }
                XCTAssertEqual(summary.inputFrames, input[0].count)
                XCTAssertEqual(output[0].count, input[0].count)
                for channel in 0..<2 {
                    let error = zip(output[channel], input[channel]).map { abs($0 - $1) }.max()!
                    XCTAssertLessThanOrEqual(error, 1e-6, "chunk \(chunk) overlap \(overlap) block \(block)")
                }
            }
        }
    }

    func testResamplingPathKeepsLengthAndAlignment() throws {
        for (rate, outRate) in [(44_100, 44_100), (48_000, 48_000), (22_050, 22_050), (44_100, 48_000), (16_000, 8_000)] {
            let frames = rate * 2 + 7
            let input = tones(frames: frames, rate: rate, channels: 1)
            let (output, _) = try runPipeline(input, rate: rate, outRate: outRate, engine: IdentityEngine(sampleRate: 32_000)) {
                $0.chunkSeconds = 0.5; $0.overlapSeconds = 0.1
            }
            XCTAssertEqual(output[0].count, (frames * outRate + rate / 2) / rate, "\(rate) → \(outRate)")
            let expected = outRate == rate ? input : tones(frames: output[0].count, rate: outRate, channels: 1)
            XCTAssertGreaterThan(snr(expected[0], output[0]), 50, "\(rate) → \(outRate)")
        }
    }

    /// A 32 kHz engine that keeps half of its window and shifts it by one sample, so the part it
    /// returns is not a scaled copy of the input.
    final class HalfShifted: Separator {
        let name = "half-shifted", sampleRate = 32_000
        func separate(channels: [[Float]]) throws -> [[[Float]]] {
            [channels.map { samples in samples.indices.map { $0 == 0 ? 0 : 0.5 * samples[$0 - 1] } }]
        }
    }

    func whiteNoise(frames: Int, channels: Int, seed: UInt64) -> [[Float]] {
        var state = seed
        return (0..<channels).map { _ in
            (0..<frames).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: state >> 11) % 1_000_000) / 2_000_000
            }
        }
    }

    func testSeparatedPlusRestIsTheInputAtEveryRate() throws {
        for rate in [44_100, 48_000, 96_000, 22_050] {
            for downmix in [false, true] {
                let input = whiteNoise(frames: rate + 777, channels: 2, seed: UInt64(rate))
                let configure: (inout PipelineConfiguration) -> Void = {
                    $0.chunkSeconds = 0.4; $0.overlapSeconds = 0.1; $0.blockFrames = 3000; $0.downmix = downmix
                }
                let (separated, _) = try runPipeline(input, rate: rate, engine: HalfShifted(), configure: configure)
                let (rest, _) = try runPipeline(input, rate: rate, engine: HalfShifted()) { configure(&$0); $0.output = .rest }
                XCTAssertEqual(rest.count, 2)
                for channel in 0..<2 {
                    XCTAssertEqual(rest[channel].count, input[channel].count)
                    let error = zip(zip(separated[channel], rest[channel]), input[channel]).map { abs($0.0 + $0.1 - $1) }.max()!
                    XCTAssertLessThanOrEqual(error, 2e-7, "\(rate) hz, downmix \(downmix)")
                }
                // Not trivially so: the rest holds what is above the engine's band.
                XCTAssertGreaterThan(rest[0].map { $0 * $0 }.reduce(0, +), 0.1 * input[0].map { $0 * $0 }.reduce(0, +))
            }
        }
    }

    func testTheRestOnOtherOutputRatesIsTheRestResampled() throws {
        let input = whiteNoise(frames: 48_000, channels: 1, seed: 7)
        let (rest, _) = try runPipeline(input, rate: 48_000, outRate: 44_100, engine: HalfShifted()) {
            $0.chunkSeconds = 0.4; $0.overlapSeconds = 0.1; $0.output = .rest
        }
        XCTAssertEqual(rest[0].count, 44_100)
    }

    func testIdentityIsExactAtTheInputsOwnRate() throws {
        for rate in [44_100, 48_000, 96_000, 8_000] {
            let input = whiteNoise(frames: rate * 2 + 5, channels: 2, seed: 3)
            for (chunk, overlap) in [(0.5, 0.2), (1.0, 0.0), (0.3, 0.15)] {
                let (output, _) = try runPipeline(input, rate: rate) { $0.chunkSeconds = chunk; $0.overlapSeconds = overlap }
                XCTAssertEqual(output, input, "\(rate) hz, chunk \(chunk), overlap \(overlap)")
            }
        }
    }

    func testRemoveAndDownmix() throws {
        let input = tones(frames: 40_000, rate: 32_000, channels: 2)
        let (removed, _) = try runPipeline(input, rate: 32_000) { $0.output = .rest; $0.chunkSeconds = 0.3; $0.overlapSeconds = 0.05 }
        XCTAssertLessThanOrEqual(removed.flatMap { $0 }.map(abs).max()!, 1e-6, "input minus identity is silence")
        let (mixed, _) = try runPipeline(input, rate: 32_000) { $0.downmix = true; $0.chunkSeconds = 0.3; $0.overlapSeconds = 0.05 }
        XCTAssertEqual(mixed.count, 2)
        for frame in stride(from: 0, to: 40_000, by: 997) {
            XCTAssertEqual(mixed[0][frame], (input[0][frame] + input[1][frame]) / 2, accuracy: 1e-6)
            XCTAssertEqual(mixed[1][frame], mixed[0][frame])
        }
    }

    func testNonFiniteSamplesAreZeroedAndCounted() throws {
        var input = tones(frames: 10_000, rate: 32_000, channels: 1)
        input[0][10] = .nan; input[0][20] = .infinity; input[0][30] = -.infinity
        let (output, summary) = try runPipeline(input, rate: 32_000)
        XCTAssertEqual(summary.nonFiniteSamples, 3)
        XCTAssertEqual(output[0][10], 0); XCTAssertEqual(output[0][20], 0); XCTAssertEqual(output[0][30], 0)
        XCTAssertTrue(output[0].allSatisfy(\.isFinite))
    }

    func testEngineFailureIsRethrownAfterTheOutputIsClosed() throws {
        final class Failing: Separator {
            struct Boom: Error {}
            let name = "failing", sampleRate = 32_000
            var calls = 0
            func separate(channels: [[Float]]) throws -> [[[Float]]] {
                calls += 1
                if calls == 3 { throw Boom() }
                return [channels]
            }
        }
        let input = tones(frames: 64_000, rate: 32_000, channels: 1)
        XCTAssertThrowsError(try runPipeline(input, rate: 32_000, engine: Failing()) { $0.chunkSeconds = 0.2; $0.overlapSeconds = 0 }) {
            XCTAssertTrue($0 is Failing.Boom)
        }
        let written = try readRaw(temporaryPath("pipeline-out.f32"), channels: 1, format: try SampleFormat(encoding: .floatingPoint, bits: 32))
        XCTAssertEqual(written.first?.count, 2 * 6400, "the two windows finished before the failure were written")
    }

    func testChunkPlanConvertsSecondsAtTheEngineRate() throws {
        var configuration = PipelineConfiguration()
        configuration.chunkSeconds = 2.5
        configuration.overlapSeconds = 0.25
        let plan = try ChunkPlan(configuration: configuration, engine: IdentityEngine())
        XCTAssertEqual(plan.layout.chunkFrames, 80_000)
        XCTAssertEqual(plan.layout.overlapFrames, 8_000)
        XCTAssertFalse(plan.snapped)
        configuration.overlapSeconds = 2
        XCTAssertThrowsError(try ChunkPlan(configuration: configuration, engine: IdentityEngine()))
        configuration.chunkSeconds = .nan
        XCTAssertThrowsError(try ChunkPlan(configuration: configuration, engine: IdentityEngine()))
    }
}

/// The virtual I/O libsndfile reads pipes through, driven from memory.
final class VirtualInputTests: XCTestCase {
    func wavBytes(frames: Int, channels: Int) throws -> [UInt8] {
        let path = temporaryPath("memory-\(channels).wav")
        // The length is known, so the header is the plain 44 bytes (no room reserved for RF64).
        let sink = try WAVSink(output: try OutputFile(path: path), sampleRate: 16_000, channelCount: channels,
                               format: try SampleFormat(encoding: .signedInteger, bits: 16), expectedFrames: frames)
        try sink.write(tones(frames: frames, rate: 16_000, channels: channels))
        try sink.finish()
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// sox's and our own "unknown length" placeholder on a pipe is never taken for a length.
    func testAPlaceholderLengthIsNotTrusted() throws {
        var bytes = try wavBytes(frames: 5000, channels: 1)
        for (index, byte) in [UInt8(0x00), 0xF0, 0xFF, 0x7F].enumerated() { bytes[40 + index] = byte }
        let source = try SndfileSource(bytes: bytes)
        XCTAssertNil(source.description.knownFrames)
    }

    func testHeadersAndSamplesDecodeFromMemory() throws {
        for channels in [1, 2, 6] {
            let source = try SndfileSource(bytes: try wavBytes(frames: 5000, channels: channels))
            XCTAssertEqual(source.description.channelCount, channels)
            XCTAssertEqual(source.description.sampleRate, 16_000)
            // The header states a real length (not a streaming placeholder), and libsndfile agrees.
            XCTAssertEqual(source.description.knownFrames, 5000, "a WAV stream's stated length")
            var frames = 0
            while let block = try Optional(source.read(maxFrames: 777)), let count = block.first?.count, count > 0 { frames += count }
            XCTAssertEqual(frames, 5000)
        }
    }

    func testEmptyGarbageAndCutHeadersAreTypedErrors() throws {
        XCTAssertThrowsError(try SndfileSource(bytes: [])) { XCTAssertEqual($0 as? StreamError, .emptyInput) }
        XCTAssertThrowsError(try SndfileSource(bytes: Array(repeating: 0x5A, count: 3000))) {
            guard case StreamError.unreadableHeader = $0 else { return XCTFail("\($0)") }
        }
        let whole = try wavBytes(frames: 100, channels: 1)
        for cut in [4, 12, 30] {
            XCTAssertThrowsError(try SndfileSource(bytes: Array(whole[0..<cut])), "header cut at \(cut) bytes")
        }
        // Cut inside the samples: whatever whole frames are there, then the end.
        let source = try SndfileSource(bytes: Array(whole[0..<(44 + 61)]))
        XCTAssertEqual(try source.read(maxFrames: 1000).first?.count, 30)
    }
}

/// Raw files and one pipeline run over them, for every test case of this module.
extension XCTestCase {
    func writeRaw(_ planar: [[Float]], format: SampleFormat, to path: String) throws {
        var bytes: [UInt8] = []
        SampleCodec(format: format, channelCount: planar.count).encode(planar, into: &bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    func readRaw(_ path: String, channels: Int, format: SampleFormat) throws -> [[Float]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let codec = SampleCodec(format: format, channelCount: channels)
        return data.withUnsafeBytes { codec.decode($0, frames: data.count / codec.bytesPerFrame) }
    }

    func runPipeline(_ input: [[Float]], rate: Int, outRate: Int? = nil, engine: Separator = IdentityEngine(),
                     configure: (inout PipelineConfiguration) -> Void = { _ in }) throws -> ([[Float]], PipelineSummary) {
        let format = try SampleFormat(encoding: .floatingPoint, bits: 32)
        let inPath = temporaryPath("pipeline-in.f32"), outPath = temporaryPath("pipeline-out.f32")
        try writeRaw(input, format: format, to: inPath)
        var configuration = PipelineConfiguration()
        configure(&configuration)
        let source = try RawPCMSource(.path(inPath), sampleRate: rate, channelCount: input.count, format: format)
        let sink = RawSink(output: try OutputFile(path: outPath), channelCount: input.count, format: format)
        let pipeline = try Pipeline(source: source, engine: engine, sink: sink, outputRate: outRate ?? rate,
                                    configuration: configuration)
        let summary = try pipeline.run()
        return (try readRaw(outPath, channels: input.count, format: format), summary)
    }
}
