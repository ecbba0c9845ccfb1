import Foundation
import TestSupport
import XCTest

/// `--remove` through the real binary: the rest is the input at its own rate minus the separated
/// source, so separated + rest gives the input back at every rate, white noise up to the top of
/// the band included, for every engine; and the identity engine gives integer input back bit
/// for bit.
final class RemoveEndToEndTests: XCTestCase {
    static let tiny = Fixtures.path("audiosep-tiny")
    static let engines: [(name: String, flags: String)] = [
        ("dsp", "--engine dsp vocals"),
        ("identity", "--engine identity"),
        ("tiny AudioSep", "--engine audiosep --model \(tiny)/tiny.ckpt --embedding \(tiny)/embedding.f32"),
    ]

    func testSeparatedPlusRestIsTheInputAtEveryRate() throws {
        for rate in [44_100, 48_000, 96_000] {
            let input = Harness.path("noise-\(rate).wav")
            // 32-bit float in and out, so that what is compared is the pipeline, not a quantiser.
            let made = try Harness.shell("sox -R -n -r \(rate) -c 2 -e floating-point -b 32 \(input) synth 3 whitenoise vol 0.5")
            XCTAssertEqual(made.status, 0, made.stderr)
            let mixture = try Harness.readAudio(input).channels
            for engine in Self.engines {
                let separated = Harness.path("sep-\(rate).wav"), rest = Harness.path("rest-\(rate).wav")
                let run = try Harness.shell("$BIN \(engine.flags) -q --chunk 1 --overlap 0.25 < \(input) > \(separated) "
                                            + "&& $BIN \(engine.flags) -q --chunk 1 --overlap 0.25 --remove < \(input) > \(rest)")
                XCTAssertEqual(run.status, 0, "\(engine.name) at \(rate) hz: \(run.stderr)")
                let part = try Harness.readAudio(separated), remainder = try Harness.readAudio(rest)
                XCTAssertEqual(remainder.rate, rate)
                for channel in 0..<2 {
                    XCTAssertEqual(part.channels[channel].count, mixture[channel].count)
                    XCTAssertEqual(remainder.channels[channel].count, mixture[channel].count)
                    let sum = zip(part.channels[channel], remainder.channels[channel]).map(+)
                    let error = zip(sum, mixture[channel]).map { abs($0 - $1) }.max() ?? 1
                    XCTAssertLessThanOrEqual(error, 1e-6, "\(engine.name) at \(rate) hz, channel \(channel)")
                    XCTAssertGreaterThan(snr(mixture[channel], sum), 120, "\(engine.name) at \(rate) hz")
                }
            }
        }
    }

    /// What the old rest lost: the band above the engine's Nyquist. The tiny model at 32 kHz on
    /// 48 kHz noise must leave everything above 16 kHz in the rest.
    func testTheRestKeepsWhatIsAboveTheEnginesBand() throws {
        let input = Harness.path("noise-high.wav"), rest = Harness.path("rest-high.wav")
        try Harness.shell("sox -R -n -r 48000 -c 1 -e floating-point -b 32 \(input) synth 2 whitenoise vol 0.5 sinc 17k")
        let run = try Harness.shell("$BIN \(Self.engines[2].flags) -q --remove < \(input) > \(rest)")
        XCTAssertEqual(run.status, 0, run.stderr)
        let original = try Harness.readAudio(input).channels[0], kept = try Harness.readAudio(rest).channels[0]
        // The network cannot see above 16 kHz, so nothing there is separated: the rest is the input.
        XCTAssertGreaterThan(snr(original, kept), 40)
    }

    func testIdentityGivesIntegerInputBackBitForBit() throws {
        for (rate, bits, channels) in [(44_100, 16, 2), (96_000, 24, 2), (48_000, 16, 1), (8_000, 8, 1), (22_050, 24, 6)] {
            let input = Harness.path("id-\(rate)-\(bits).wav"), output = Harness.path("id-\(rate)-\(bits)-out.wav")
            let made = try Harness.shell("sox -R -n -r \(rate) -c \(channels) -b \(bits) \(input) synth 2.3 whitenoise vol 0.9")
            XCTAssertEqual(made.status, 0, made.stderr)
            let run = try Harness.shell("cat \(input) | $BIN --engine identity --chunk 0.5 --overlap 0.2 > \(output)")
            XCTAssertEqual(run.status, 0, run.stderr)
            let original = try Harness.readAudio(input), copy = try Harness.readAudio(output)
            XCTAssertEqual(copy.rate, rate)
            XCTAssertEqual(copy.format.bits, bits)
            XCTAssertEqual(copy.channels, original.channels, "\(rate) hz \(bits)-bit: the pipeline alone is the identity")
        }
    }
}
