import Foundation
import TestSupport
import XCTest

/// Two outputs of one run that are one file through a symbolic link (a linked folder, or a link
/// to the other output) are refused in one line, as `a.wav` and `./a.wav` are: written both,
/// one stem would be lost.
final class StemsLinkCollisionEndToEndTests: XCTestCase {
    func testTwoOutputsThatAreOneFileThroughALinkAreRefused() throws {
        let directory = Harness.path("stems-links-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let made = try Harness.shell("cd \(directory) && sox -R -n -r 44100 -c 2 -b 16 in.wav synth 2 sine 220 pluck C2 vol 0.5 && mkdir d && ln -s d l && echo old > target.wav && ln -s target.wav link.wav")
        XCTAssertEqual(made.status, 0, made.stderr)
        let cases = [
            ("--stem vocals=d/a.wav --stem drums=l/a.wav", "a linked folder"),
            ("--stem vocals=target.wav --stem drums=link.wav", "a link to the other output"),
            ("vocals drums -o 'l/{query}.wav' --rest d/vocals.wav", "the rest onto a stem through a linked folder"),
        ]
        for (flags, label) in cases {
            let run = try Harness.shell("cd \(directory) && $BIN --engine dsp -q \(flags) -i in.wav")
            assertOneLineError(run, "two outputs name", label)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/d"), [], "something was written")
        XCTAssertEqual(FileManager.default.contents(atPath: directory + "/target.wav"), Data("old\n".utf8))
        // The worker's list of outputs goes through the same run.
        let separate = #"{"cmd":"separate","input":"in.wav","text":["vocals","drums"],"output":["d/a.wav","l/a.wav"],"engine":"dsp"}"#
        let worker = try Harness.shell("cd \(directory) && echo '\(separate)' | HOME=\(directory)/home $BIN worker")
        XCTAssertTrue(String(decoding: worker.stdout, as: UTF8.self).contains("two outputs name"),
                      String(decoding: worker.stdout, as: UTF8.self))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/d"), [], "the worker wrote something")
    }
}
