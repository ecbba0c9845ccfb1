import Foundation
import XCTest

/// The worker against what hosts and systems do to it: outputs that are the input under another
/// name, paths that name folders, error answers a host times, signals mid-job, over-long lines.
final class WorkerHardeningEndToEndTests: XCTestCase {
    /// A fresh folder for one test, so what is left in it can be listed.
    func folder(_ name: String) throws -> String {
        let path = Harness.path("hard-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The worker's answers on stdout, each a JSON object.
    func answers(_ run: Harness.Result) throws -> [[String: Any]] {
        try String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try XCTUnwrap(object, "not a JSON object: \(line)")
        }
    }

    /// Runs the worker on `lines` (a fresh HOME: no embedding cache from elsewhere).
    func worker(_ lines: [String], in directory: String) throws -> Harness.Result {
        let commands = directory + "/commands.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: commands, atomically: true, encoding: .utf8)
        return try Harness.shell("cd \(directory) && HOME=\(directory)/home $BIN --worker < commands.jsonl")
    }

    func testAHardLinkToTheInputIsRefusedAndTheInputKept() throws {
        let directory = try folder("hardlink")
        let made = try Harness.shell("cd \(directory) && sox -n -r 22050 -c 1 -b 16 in.wav synth 2 sine 440 vol 0.5 && ln in.wav linked.wav")
        XCTAssertEqual(made.status, 0, made.stderr)
        let before = try Data(contentsOf: URL(fileURLWithPath: directory + "/in.wav"))
        let run = try worker([#"{"cmd":"separate","input":"in.wav","output":"linked.wav","engine":"identity"}"#,
                              #"{"cmd":"exit"}"#], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        let replies = try answers(run)
        XCTAssertEqual(replies.map { $0["status"] as? String }, ["loading", "ready", "error", "exiting"], "\(replies)")
        guard replies.count == 4 else { return }
        let message = replies[2]["message"] as? String ?? ""
        XCTAssertTrue(message.hasPrefix("Separation failed: output '\(directory)/linked.wav' is the input file"), message)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/in.wav")), before, "the input's bytes are untouched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(),
                       ["commands.jsonl", "in.wav", "linked.wav"], "no temporary file left")
    }

    func testErrorAnswersCarryElapsedAndNameFoldersAsSuch() throws {
        let directory = try folder("errors")
        let made = try Harness.shell("cd \(directory) && sox -n -r 22050 -c 1 -b 16 in.wav synth 1 sine 440 vol 0.5 && mkdir sub")
        XCTAssertEqual(made.status, 0, made.stderr)
        let run = try worker([
            #"{"cmd":"separate","input":"sub","output":"out.wav","engine":"identity"}"#,
            #"{"cmd":"separate","input":"in.wav","output":"missing/out.wav","engine":"identity"}"#,
            #"{"cmd":"separate","input":"in.wav","output":"sub","engine":"identity"}"#,
            #"{"cmd":"separate","input":"nothing.wav","output":"out.wav","engine":"identity"}"#,
            #"{"cmd":"fly"}"#,
            "{oops",
            #"{"cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity"}"#,
        ], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        let replies = Array(try answers(run).dropFirst(2))
        XCTAssertEqual(replies.map { $0["status"] as? String }, ["error", "error", "error", "error", "error", "error", "done"],
                       "\(replies)")
        guard replies.count == 7 else { return }
        let messages = replies.map { $0["message"] as? String ?? "" }
        XCTAssertEqual(messages[0], "Separation failed: input '\(directory)/sub' is a folder, not an audio file")
        XCTAssertEqual(messages[1], "Separation failed: cannot write '\(directory)/missing/out.wav': folder '\(directory)/missing' does not exist")
        XCTAssertTrue(messages[2].hasPrefix("Separation failed: output '\(directory)/sub' is a folder"), messages[2])
        XCTAssertEqual(messages[3], "Input not found: \(directory)/nothing.wav", "the packaged worker's message, kept")
        XCTAssertTrue(messages[4].hasPrefix("Unknown command: fly"), messages[4])
        XCTAssertTrue(messages[5].hasPrefix("Invalid JSON"), messages[5])
        for reply in replies {
            let elapsed = try XCTUnwrap(reply["elapsed"] as? Double, "every answer carries elapsed: \(reply)")
            XCTAssertGreaterThanOrEqual(elapsed, 0)
            XCTAssertLessThan(elapsed, 30)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/missing"), "no folder made")
    }
}
