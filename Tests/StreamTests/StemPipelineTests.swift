import Foundation
import Separation
@testable import Stream
import TestSupport
import XCTest

/// Several stems from one read: each stem is what a one-query run writes, and the stems with the
/// rest add up to the input.
final class StemPipelineTests: XCTestCase {
    /// A 32 kHz engine whose stem k keeps a different, shifted share of each channel; built for
    /// some of its stems, it returns those only (as an engine built for fewer queries would).
    final class Shares: Separator {
        let name = "shares", sampleRate = 32_000
        let stems: [Int]
        let rest: [Bool]
        init(_ stems: [Int], rest: [Bool]? = nil) {
            self.stems = stems
            self.rest = rest ?? stems.map { _ in false }
        }
        var stemCount: Int { stems.count }
        var stemsAskForRest: [Bool] { rest }
        func separate(channels: [[Float]]) throws -> [[[Float]]] {
            stems.map { stem in
                channels.map { samples in
                    samples.indices.map { index in index <= stem ? 0 : Float(stem + 1) * 0.2 * samples[index - stem - 1] }
                }
            }
        }
    }

    let format = try! SampleFormat(encoding: .floatingPoint, bits: 32)

    /// Runs `input` through `engine` into one raw float output per content; returns each output.
    func run(_ input: [[Float]], rate: Int, outRate: Int? = nil, engine: Separator, contents: [PipelineSink.Content],
             configure: (inout PipelineConfiguration) -> Void = { _ in }) throws -> [[[Float]]] {
        let inPath = temporaryPath("stems-in.f32")
        var bytes: [UInt8] = []
        SampleCodec(format: format, channelCount: input.count).encode(input, into: &bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: inPath))
        var configuration = PipelineConfiguration()
        configuration.chunkSeconds = 0.5
        configuration.overlapSeconds = 0.1
        configure(&configuration)
        let paths = contents.indices.map { temporaryPath("stems-out-\($0).f32") }
        let sinks = try zip(contents, paths).map { content, path in
            PipelineSink(content, RawSink(output: try OutputFile(path: path), channelCount: input.count, format: format))
        }
        let source = try RawPCMSource(.path(inPath), sampleRate: rate, channelCount: input.count, format: format)
        let pipeline = try Pipeline(source: source, engine: engine, sinks: sinks, outputRate: outRate ?? rate,
                                    configuration: configuration)
        _ = try pipeline.run()
        return try paths.map { path in
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let codec = SampleCodec(format: format, channelCount: input.count)
            return data.withUnsafeBytes { codec.decode($0, frames: data.count / codec.bytesPerFrame) }
        }
    }

    func testEachStemIsTheOneQueryRunsOutput() throws {
        for (rate, outRate) in [(32_000, 32_000), (44_100, 44_100), (48_000, 22_050)] {
            for remove in [false, true] {
                for downmix in [false, true] {
                    let input = tones(frames: rate + 555, rate: rate, channels: 2)
                    let configure: (inout PipelineConfiguration) -> Void = {
                        $0.output = remove ? .rest : .separated
                        $0.downmix = downmix
                    }
                    let together = try run(input, rate: rate, outRate: outRate, engine: Shares([0, 1, 2]),
                                           contents: [.stem(0), .stem(1), .stem(2)], configure: configure)
                    for stem in 0..<3 {
                        let alone = try run(input, rate: rate, outRate: outRate, engine: Shares([stem]), contents: [.stem(0)],
                                            configure: configure)[0]
                        XCTAssertEqual(together[stem], alone, "stem \(stem), \(rate) → \(outRate) hz, remove \(remove), downmix \(downmix)")
                        XCTAssertEqual(alone[0].count, (input[0].count * outRate + rate / 2) / rate)
                    }
                }
            }
        }
    }

    func testTheStemsAndTheRestAddUpToTheInputAtItsOwnRate() throws {
        for rate in [32_000, 44_100, 96_000] {
            for asksForRest in [[false, false, false], [false, true, false]] {
                let input = tones(frames: rate + 321, rate: rate, channels: 2)
                let outputs = try run(input, rate: rate, engine: Shares([0, 1, 2], rest: asksForRest),
                                      contents: [.stem(0), .stem(1), .stem(2), .rest])
                var worst: Float = 0
                for channel in 0..<2 {
                    for index in input[channel].indices {
                        let sum = outputs.reduce(Float(0)) { $0 + $1[channel][index] }
                        worst = max(worst, abs(sum - input[channel][index]))
                    }
                }
                XCTAssertLessThan(worst, 1e-5, "\(rate) hz, asks for rest \(asksForRest)")
                // Not trivially so: the rest is neither silent nor the input.
                XCTAssertGreaterThan(outputs[3][0].map(abs).max()!, 0.05)
                XCTAssertGreaterThan(snr(input[0], outputs[3][0]), -20)
                XCTAssertLessThan(snr(input[0], outputs[3][0]), 20)
            }
        }
    }

    func testAnOutputOfOnlyTheRestNeedsNoStemOutput() throws {
        let input = tones(frames: 40_000, rate: 44_100, channels: 1)
        let rest = try run(input, rate: 44_100, engine: Shares([0, 1]), contents: [.rest])[0]
        let stems = try run(input, rate: 44_100, engine: Shares([0, 1]), contents: [.stem(0), .stem(1)])
        let worst = input[0].indices.map { abs(rest[0][$0] + stems[0][0][$0] + stems[1][0][$0] - input[0][$0]) }.max()!
        XCTAssertLessThan(worst, 1e-5)
    }

    func testAnEngineReturningTooFewStemsIsAnError() throws {
        final class Short: Separator {
            let name = "short", sampleRate = 32_000
            var stemCount: Int { 2 }
            func separate(channels: [[Float]]) throws -> [[[Float]]] { [channels] }
        }
        let input = tones(frames: 32_000, rate: 32_000, channels: 1)
        XCTAssertThrowsError(try run(input, rate: 32_000, engine: Short(), contents: [.stem(0), .stem(1)])) {
            XCTAssertEqual($0 as? EngineError, .wrongStemCount(engine: "short", got: 1, expected: 2))
        }
    }
}

