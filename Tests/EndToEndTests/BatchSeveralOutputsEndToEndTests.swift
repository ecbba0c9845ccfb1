import Foundation
import TestSupport
import XCTest

/// A manifest row that names several queries: one read of the input, each stem the filter's
/// one-query output byte for byte, done only while every output is.
final class BatchSeveralOutputsEndToEndTests: XCTestCase {
    func testARowWithTwoQueriesWritesTheFiltersOutputsAndIsDoneOnlyWithAllOfThem() throws {
        let work = "batch-several-\(UUID().uuidString)"
        XCTAssertEqual(try Harness.shell("""
            set -e; mkdir -p \(work)/in \(work)/ref; cd \(work)
            sox -n -r 44100 -c 2 -b 16 in/song.wav synth 3 sine 220 pinknoise vol 0.4 2>/dev/null
            sox -n -r 16000 -c 1 -b 16 in/other.wav synth 2 sine 500 pinknoise vol 0.4 2>/dev/null
            echo 'not audio' > in/bad.wav
            """).status, 0)
        try """
            {"input": "in/song.wav", "output": "out/song/{query}.wav", "text": ["vocals", "drums"], "rest": "out/song/rest.wav"}
            {"input": "in/other.wav", "output": ["out/other-v.wav", "out/other-d.wav"], "text": ["vocals", "drums"]}
            {"input": "in/bad.wav", "output": "out/bad/{query}.wav", "text": ["vocals", "drums"], "rest": "out/bad/rest.wav"}

            """.write(toFile: Harness.path(work + "/jobs.jsonl"), atomically: true, encoding: .utf8)
        let batch = "cd \(work) && $BIN batch --engine dsp -q jobs.jsonl"
        func run(_ expected: String, _ label: String) throws {
            let result = try Harness.shell(batch)
            XCTAssertEqual(result.status, 1, "\(label): the bad input fails: \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("3 jobs: \(expected)"), "\(label): \(result.stderr)")
        }
        try run("2 done, 0 skipped, 1 failed", "first run")

        // Each stem is the filter's one-query run, byte for byte; the rest is the filter's --rest.
        let reference = try Harness.shell("""
            set -e; cd \(work)
            $BIN --engine dsp vocals -q -i in/song.wav -o ref/song-vocals.wav
            $BIN --engine dsp drums -q -i in/song.wav -o ref/song-drums.wav
            $BIN --engine dsp vocals -q -i in/other.wav -o ref/other-vocals.wav
            $BIN --engine dsp drums -q -i in/other.wav -o ref/other-drums.wav
            $BIN --engine dsp vocals drums -q -i in/song.wav -o 'ref/multi-{query}.wav' --rest ref/song-rest.wav
            """)
        XCTAssertEqual(reference.status, 0, reference.stderr)
        func same(_ output: String, _ expected: String) throws -> Bool {
            let a = try Data(contentsOf: URL(fileURLWithPath: Harness.path(work + "/" + output)))
            let b = try Data(contentsOf: URL(fileURLWithPath: Harness.path(work + "/" + expected)))
            return a == b && a.count > 44
        }
        XCTAssertTrue(try same("out/song/vocals.wav", "ref/song-vocals.wav"))
        XCTAssertTrue(try same("out/song/drums.wav", "ref/song-drums.wav"))
        XCTAssertTrue(try same("out/song/rest.wav", "ref/song-rest.wav"))
        XCTAssertTrue(try same("out/other-v.wav", "ref/other-vocals.wav"))
        XCTAssertTrue(try same("out/other-d.wav", "ref/other-drums.wav"))
        XCTAssertFalse(try same("out/song/vocals.wav", "out/song/drums.wav"), "two queries, two stems")
        XCTAssertFalse(FileManager.default.fileExists(atPath: Harness.path(work + "/out/bad/vocals.wav")), "a failed job leaves no output")
        XCTAssertFalse(FileManager.default.fileExists(atPath: Harness.path(work + "/out/bad/drums.wav")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: Harness.path(work + "/out/bad/rest.wav")))

        // The journal names every output of the job.
        let journal = try String(contentsOfFile: Harness.path(work + "/.audiosep-batch/shard-0.jsonl"), encoding: .utf8)
        let first = try XCTUnwrap(journal.split(separator: "\n").first)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        XCTAssertEqual(object["outputs"] as? [String], ["out/song/vocals.wav", "out/song/drums.wav", "out/song/rest.wav"])
        XCTAssertEqual((object["output_files"] as? [Any])?.count, 3)

        try run("0 done, 2 skipped, 1 failed", "nothing changed")
        // One output of the first job removed: that job runs again, and writes it as before.
        try FileManager.default.removeItem(atPath: Harness.path(work + "/out/song/drums.wav"))
        try run("1 done, 1 skipped, 1 failed", "one output removed")
        XCTAssertTrue(try same("out/song/drums.wav", "ref/song-drums.wav"))
        try run("0 done, 2 skipped, 1 failed", "done again")
        try? FileManager.default.removeItem(atPath: Harness.path(work))
    }

    func testAMismatchedRowIsRefusedNamingItsLine() throws {
        let work = "batch-several-bad-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: Harness.path(work), withIntermediateDirectories: true)
        try """
            {"input": "a.wav", "output": "a.wav.out", "text": "vocals"}
            {"input": "b.wav", "output": ["b-v.wav"], "text": ["vocals", "drums"]}

            """.write(toFile: Harness.path(work + "/jobs.jsonl"), atomically: true, encoding: .utf8)
        let result = try Harness.shell("cd \(work) && $BIN batch --engine dsp jobs.jsonl")
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "audiosep-stream: jobs.jsonl:2: text names 2 queries but output names 1 file; give one output per query\n")
        try? FileManager.default.removeItem(atPath: Harness.path(work))
    }
}
