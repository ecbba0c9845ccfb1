import Foundation
import TestSupport
import XCTest

/// The README's quick start ends in `tools/demo`: it must make its mixture, run the real binary
/// and show a separation, not a mixture made worse.
final class DemoEndToEndTests: XCTestCase {
    func testTheQuickStartsDemoShowsTheVoiceImproved() throws {
        guard try Harness.shell("command -v espeak-ng && command -v python3").status == 0 else {
            throw XCTSkip("espeak-ng or python3 is not installed (tools/setup installs them)")
        }
        let root = Fixtures.tests.deletingLastPathComponent().path
        let folder = Harness.path("demo")
        // No model: the demo is what a fresh machine shows, the built-in engine.
        let run = try Harness.shell("mkdir -p \(folder)/home && env -u AUDIOSEP_MODEL HOME=\(folder)/home \(root)/tools/demo --bin \"$BIN\" --dir \(folder)")
        XCTAssertEqual(run.status, 0, run.stderr)
        let output = String(decoding: run.stdout, as: UTF8.self)
        let improvement = output.components(separatedBy: "improved by ").last.flatMap { Double($0.prefix { $0 != " " }) }
        XCTAssertNotNil(improvement, output)
        XCTAssertGreaterThan(improvement ?? 0, 6, "the demo must show separation: \(output)")
        XCTAssertTrue(run.stderr.contains("built-in engine, 'vocals' → voice"), run.stderr)
        let vocals = try Harness.readAudio(folder + "/vocals.wav"), mixture = try Harness.readAudio(folder + "/mixture.wav")
        XCTAssertEqual(vocals.channels[0].count, mixture.channels[0].count)
    }
}
