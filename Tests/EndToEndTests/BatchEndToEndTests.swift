import Foundation
import TestSupport
import XCTest

/// `audiosep-stream batch` as an archive user runs it: a manifest of 30 short sox-made jobs and
/// one bad input, in 3 shards under GNU parallel, one shard killed mid-way and rerun.
final class BatchEndToEndTests: XCTestCase {
    static let queries = ["vocals", "drums", "bass"]
    static let badIndex = 17

    struct Record: Decodable {
        var index: Int
        var status: String
        var error: String?
    }

    func records(_ folder: String) throws -> [Record] {
        let journals = try FileManager.default.contentsOfDirectory(atPath: folder + "/.audiosep-batch").filter { $0.hasSuffix(".jsonl") }
        return try journals.flatMap { name -> [Record] in
            let text = try String(contentsOfFile: folder + "/.audiosep-batch/" + name, encoding: .utf8)
            return try text.split(separator: "\n").map { try JSONDecoder().decode(Record.self, from: Data($0.utf8)) }
        }
    }

    func testShardsUnderParallelWithAKilledShardRerunEqualTheFilter() throws {
        guard try Harness.shell("command -v parallel").status == 0 else { throw XCTSkip("GNU parallel is not installed") }
        let work = "batch-\(UUID().uuidString)"
        // 31 jobs: 3–6 s at three rates, mono and stereo; job 17 is a text file named .wav.
        var manifest = ""
        var make = "set -e; mkdir -p \(work)/in \(work)/out; cd \(work)\n"
        for index in 0...30 {
            let query = Self.queries[index % 3]
            let remove = index % 5 == 4
            manifest += "{\"input\": \"in/\(index).wav\", \"output\": \"\(index).wav\", \"text\": \"\(query)\""
                + (remove ? ", \"remove\": true" : "") + "}\n"
            if index == Self.badIndex {
                make += "echo 'not audio' > in/\(index).wav\n"
                continue
            }
            let rate = [44_100, 16_000, 48_000][index % 3]
            let channels = index % 2 + 1
            let seconds = 3 + index % 4
            make += "sox -n -r \(rate) -c \(channels) -b 16 in/\(index).wav synth \(seconds) sine \(110 + 20 * index) "
                + "pinknoise vol 0.4 fade 0.05 \(seconds) 0.05 2>/dev/null\n"
        }
        try make.write(toFile: Harness.path(work + ".sh"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try Harness.shell("bash \(work).sh").status, 0)
        try manifest.write(toFile: Harness.path(work + "/jobs.jsonl"), atomically: true, encoding: .utf8)
        let batch = "$BIN batch --engine dsp --out-dir out"

        // Shard 1 alone, killed once two of its jobs are in the journal.
        let killed = try Harness.shell("""
            cd \(work) && { \(batch) --shard 1/3 jobs.jsonl 2>/dev/null & pid=$!; }
            for i in $(seq 1 2000); do
                [ -f out/.audiosep-batch/shard-1.jsonl ] && [ $(wc -l < out/.audiosep-batch/shard-1.jsonl) -ge 2 ] && break
                sleep 0.01
            done
            kill -TERM $pid; wait $pid; echo "status $?"
            """)
        XCTAssertTrue(String(decoding: killed.stdout, as: UTF8.self).contains("status 143"), "killed by SIGTERM: \(killed.stderr)")
        let beforeRerun = try records(Harness.path(work + "/out"))
        XCTAssertGreaterThanOrEqual(beforeRerun.count, 2)
        XCTAssertLessThan(beforeRerun.count, 10, "the kill came before shard 1's last job")
        let leftovers = try Harness.shell("cd \(work)/out && ls -A | grep -v '^[0-9]*\\.wav$' | grep -v '^.audiosep-batch$' || true")
        XCTAssertEqual(String(decoding: leftovers.stdout, as: UTF8.self), "", "no temporary file is left behind")

        // All three shards under GNU parallel; shard 1 does what is left.
        let run = try Harness.shell("cd \(work) && parallel -j 3 \(batch) --shard {}/3 jobs.jsonl ::: 0 1 2")
        XCTAssertEqual(run.status, 1, "one job failed, so one shard exits 1: \(run.stderr)")
        XCTAssertTrue(run.stderr.contains("shard 2/3: 10 jobs: 9 done, 0 skipped, 1 failed"), run.stderr)
        XCTAssertTrue(run.stderr.contains("shard 1/3: 10 jobs: \(10 - beforeRerun.count)"), run.stderr)

        // Every job done exactly once; the bad one failed with its one-line error, no output.
        let all = try records(Harness.path(work + "/out"))
        for index in 0...30 where index != Self.badIndex {
            XCTAssertEqual(all.filter { $0.index == index && $0.status == "done" }.count, 1, "job \(index)")
        }
        let bad = all.filter { $0.index == Self.badIndex }
        XCTAssertEqual(bad.map(\.status), ["failed"])
        XCTAssertTrue(bad.first?.error?.contains("in/17.wav") ?? false, "\(bad)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: Harness.path(work + "/out/17.wav")))

        // Each output equals the single-file filter's, byte for byte.
        var compare = "set -e; cd \(work); mkdir -p ref\n"
        for index in 0...30 where index != Self.badIndex {
            compare += "$BIN --engine dsp \(Self.queries[index % 3])\(index % 5 == 4 ? " --remove" : "") -q -i in/\(index).wav -o ref/\(index).wav\n"
            compare += "cmp ref/\(index).wav out/\(index).wav\n"
        }
        let compared = try Harness.shell(compare)
        XCTAssertEqual(compared.status, 0, "\(String(decoding: compared.stdout, as: UTF8.self)) \(compared.stderr)")

        // A second run finds everything whole: all skipped, the failed job tried again.
        let again = try Harness.shell("cd \(work) && \(batch) -q jobs.jsonl")
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("31 jobs: 0 done, 30 skipped, 1 failed"), again.stderr)
        try? FileManager.default.removeItem(atPath: Harness.path(work))
    }

    func testAFolderTreeWithAShardFromTheEnvironment() throws {
        let work = "batch-tree-\(UUID().uuidString)"
        XCTAssertEqual(try Harness.shell("""
            set -e; mkdir -p \(work)/archive/day1 \(work)/archive/day2
            sox -n -r 16000 -c 1 -b 16 \(work)/archive/day1/a.wav synth 2 sine 300 2>/dev/null
            sox -n -r 16000 -c 1 -b 16 \(work)/archive/day2/b.flac synth 2 sine 500 2>/dev/null
            sox -n -r 16000 -c 1 -b 16 \(work)/archive/day2/c.wav synth 2 sine 700 2>/dev/null
            """).status, 0)
        // GNU parallel's job number picks the shard: PARALLEL_SEQ=2 of 2 is shard 1/2 (job 1).
        let run = try Harness.shell("cd \(work) && PARALLEL_SEQ=2 $BIN batch --engine identity --shard-count 2 --query vocals --out-dir out archive")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("shard 1/2: 1 jobs: 1 done"), run.stderr)
        XCTAssertEqual(try Harness.shell("cd \(work)/out && find . -name '*.wav' | sort").stdout, Data("./day2/b.wav\n".utf8))
        let usage = try Harness.shell("$BIN batch --query vocals archive")
        XCTAssertEqual(usage.status, 1)
        XCTAssertTrue(usage.stderr.contains("--query needs --out-dir"), usage.stderr)
        try? FileManager.default.removeItem(atPath: Harness.path(work))
    }
}
