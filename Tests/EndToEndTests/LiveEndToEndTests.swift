import Foundation
import TestSupport
import XCTest

/// `--latency`: a WAV played into the real binary at real-time pace (`tools/live-play`, a header
/// then 10 ms blocks on a clock), with a click every second; each click must come out within the
/// budget plus 10%, and the output must be the one the same windows give offline.
final class LiveEndToEndTests: XCTestCase {
    static let root = Fixtures.tests.deletingLastPathComponent().path
    static let tiny = Fixtures.tests.appendingPathComponent("Fixtures/audiosep-tiny").path
    static let tinyModel = "--engine audiosep --model \(tiny)/tiny.ckpt --embedding \(tiny)/embedding.f32"

    override func setUp() async throws {
        guard try Harness.shell("command -v python3").status == 0 else {
            throw XCTSkip("python3 is not installed (tools/setup installs it)")
        }
    }

    struct Played: Decodable {
        struct Click: Decodable { let time: Double; let delay: Double? }
        let clicks: [Click]
        let worst: Double?
        let missing: Int
        let input_frames: Int
        let output_frames: Int
        let status: Int32
        let stderr: String
    }

    /// Makes a click track, plays it live into `flags`, and checks the clicks and the output
    /// against an offline run of the same flags.
    func checkLive(_ name: String, flags: String, budget: Double, seconds: Double, channels: Int = 1,
                   file: StaticString = #filePath, line: UInt = #line) throws {
        let input = Harness.path("\(name)-clicks.wav"), live = Harness.path("\(name)-live.wav")
        let offline = Harness.path("\(name)-offline.wav"), stats = Harness.path("\(name)-stats.json")
        var made = try Harness.shell("\(Self.root)/tools/live-play --make \(input) --seconds \(seconds) --channels \(channels)")
        XCTAssertEqual(made.status, 0, made.stderr, file: file, line: line)
        made = try Harness.shell("\(Self.root)/tools/live-play \(input) --json --save \(live) -- \"$BIN\" \(flags) "
                                 + "--latency \(budget) --stats \(stats)")
        XCTAssertEqual(made.status, 0, made.stderr, file: file, line: line)
        let played = try JSONDecoder().decode(Played.self, from: made.stdout)
        XCTAssertEqual(played.status, 0, played.stderr, file: file, line: line)
        XCTAssertEqual(played.missing, 0, "every click came out", file: file, line: line)
        XCTAssertEqual(played.output_frames, played.input_frames, file: file, line: line)
        XCTAssertGreaterThanOrEqual(played.clicks.count, Int(seconds) - 2, file: file, line: line)
        // A sanitized build (tools/sanitize sets AUDIOSEP_SANITIZER) runs several times slower than
        // the one users get: there the plumbing is checked (every click out, the output equal to
        // the offline run's), not real time.
        if ProcessInfo.processInfo.environment["AUDIOSEP_SANITIZER"] == nil {
            for click in played.clicks {
                XCTAssertLessThanOrEqual(click.delay ?? .infinity, budget * 1.1,
                                         "the click at \(click.time) s came out \(click.delay ?? -1) s after it went in", file: file, line: line)
            }
            XCTAssertFalse(played.stderr.contains("not keeping up"), played.stderr, file: file, line: line)
        }
        XCTAssertTrue(played.stderr.contains("latency: "), "the run says its latency: \(played.stderr)", file: file, line: line)
        let run = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stats))) as? [String: Any]
        XCTAssertNotNil(run?["fell_behind"] as? Bool, file: file, line: line)
        let computed = try XCTUnwrap(run?["latency_seconds"] as? Double, file: file, line: line)
        XCTAssertLessThan(computed, budget, file: file, line: line)
        XCTAssertGreaterThan(try XCTUnwrap(run?["worst_latency_seconds"] as? Double), 0, file: file, line: line)

        // The same flags over the file, as fast as it can be read: the same samples.
        let again = try Harness.shell("\"$BIN\" \(flags) --latency \(budget) -q -i \(input) -o \(offline)")
        XCTAssertEqual(again.status, 0, again.stderr, file: file, line: line)
        let liveAudio = try Harness.readAudio(live), offlineAudio = try Harness.readAudio(offline)
        XCTAssertEqual(liveAudio.channels, offlineAudio.channels, "live output equals the offline run's", file: file, line: line)
    }

    func testTinyModelClicksArriveWithinOneSecond() throws {
        try checkLive("tiny", flags: Self.tinyModel + " --threads 2", budget: 1.0, seconds: 8)
        // The windows a budget of 1 s gives AudioSep: two blocks of STFT frames, a hop of one.
        let stats = Harness.path("tiny-stats.json")
        let run = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stats))) as? [String: Any]
        XCTAssertEqual(run?["chunk_seconds"] as? Double ?? 0, 0.63, accuracy: 1e-9)
        XCTAssertEqual(run?["overlap_seconds"] as? Double ?? 0, 0.31, accuracy: 1e-9)
    }

    func testTinyModelStereoClicksArriveWithinOneAndAHalfSeconds() throws {
        try checkLive("tiny-stereo", flags: Self.tinyModel + " --threads 2", budget: 1.5, seconds: 6, channels: 2)
    }

    func testBuiltInEngineClicksArriveWithinItsBudget() throws {
        // The built-in engine's drums need 2.8 s windows: 4.21 s is the least it honours at 44.1 kHz.
        try checkLive("dsp", flags: "--engine dsp drums", budget: 5, seconds: 10)
    }

    func testABudgetTheEngineCannotHonourIsOneLineNamingTheLeast() throws {
        let input = Harness.path("refused.wav")
        XCTAssertEqual(try Harness.shell("sox -n -r 44100 -c 1 -b 16 \(input) synth 1 sine 440").status, 0)
        let cases: [(String, String)] = [
            ("\(Self.tinyModel) --latency 0.5", "latency 0.5 s is below the smallest the audiosep engine can honour, 0.9"),
            ("\(Self.tinyModel) --latency 0.5", "(0.63 s windows every 0.32 s, with the reads and resampling): give --latency 0.9"),
            ("--engine dsp drums --latency 2", "(2.8 s windows every 1.4 s, with the reads and resampling): give --latency 4.2"),
            ("--engine dsp vocals --latency 2", "below the smallest the dsp engine can honour"),
            ("--engine identity --latency 1 --chunk 2", "give either --latency or --chunk/--overlap"),
            ("--engine identity --latency 0", "--latency"),
            ("--engine identity --latency soon", "--latency"),
        ]
        for (flags, expected) in cases {
            let run = try Harness.shell("\"$BIN\" \(flags) -i \(input) -o \(Harness.path("refused-out.wav"))")
            XCTAssertNotEqual(run.status, 0, flags)
            let lines = run.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(flags): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(expected), "\(flags): \(run.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: Harness.path("refused-out.wav")), flags)
        }
    }
}
