import Foundation
import Stream
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

    /// The journal of `folder` as (index, status, error) by index, the last line of each job.
    func lastRecords(_ folder: String) throws -> [Int: Record] {
        var last: [Int: Record] = [:]
        for record in try records(folder) { last[record.index] = record }
        return last
    }

    func testAnOutputThatIsAnInputOrAnotherJobsOutputFailsItsJobInEveryShard() throws {
        let work = "batch-collide-\(UUID().uuidString)"
        var make = "set -e; mkdir -p \(work)/in \(work)/out; cd \(work); ln -s out outlink\n"
        for index in 0...6 { make += "sox -n -r 16000 -c 1 -b 16 in/\(index).wav synth 1 sine \(200 + 50 * index) 2>/dev/null\n" }
        make += "ln -s in/1.wav link-to-1.wav; ln in/6.wav hard-6.wav; cp -r in in-copy\n"
        XCTAssertEqual(try Harness.shell(make).status, 0)
        try """
            {"input": "in/0.wav", "output": "in/0.wav", "text": "vocals"}
            {"input": "in/1.wav", "output": "link-to-1.wav", "text": "vocals"}
            {"input": "in/2.wav", "output": "in/3.wav", "text": "vocals"}
            {"input": "in/3.wav", "output": "out/a.wav", "text": "vocals"}
            {"input": "in/4.wav", "output": "outlink/a.wav", "text": "vocals"}
            {"input": "in/5.wav", "output": "out/b.wav", "text": "vocals"}
            {"input": "in/6.wav", "output": "hard-6.wav", "text": "vocals"}
            {"input": "in/5.wav", "output": "./out/../out/b.wav", "text": "vocals"}
            {"input": "in/5.wav", "output": "jobs.jsonl", "text": "vocals"}

            """.write(toFile: Harness.path(work + "/jobs.jsonl"), atomically: true, encoding: .utf8)
        let batch = "cd \(work) && $BIN batch --engine dsp -q"
        // Shard 0/2 (jobs 0, 2, 4, 6, 8) runs first: job 4 fails although job 3, whose output it
        // reaches through the linked folder, is in the other shard and has not run.
        let first = try Harness.shell("\(batch) --shard 0/2 jobs.jsonl")
        XCTAssertEqual(first.status, 1, first.stderr)
        XCTAssertTrue(first.stderr.contains("5 jobs: 0 done, 0 skipped, 5 failed"), first.stderr)
        let second = try Harness.shell("\(batch) --shard 1/2 jobs.jsonl")
        XCTAssertEqual(second.status, 1, second.stderr)
        XCTAssertTrue(second.stderr.contains("4 jobs: 2 done, 0 skipped, 2 failed"), second.stderr)
        let last = try lastRecords(Harness.path(work))
        let expected: [Int: String] = [
            0: "output 'in/0.wav' is the input file: writing it would destroy the input",
            1: "output 'link-to-1.wav' is the input file",
            2: "output 'in/3.wav' is the input of job 3 (line 4, input 'in/3.wav')",
            4: "output 'outlink/a.wav' is the same file as the output of job 3 (line 4, input 'in/3.wav')",
            6: "output 'hard-6.wav' is the input file",
            7: "output './out/../out/b.wav' is the same file as the output of job 5 (line 6, input 'in/5.wav')",
            8: "output 'jobs.jsonl' is the manifest 'jobs.jsonl'",
        ]
        for (index, message) in expected {
            XCTAssertEqual(last[index]?.status, "failed", "job \(index)")
            XCTAssertTrue(last[index]?.error?.contains(message) ?? false, "job \(index): \(String(describing: last[index]?.error))")
        }
        XCTAssertEqual(last[3]?.status, "done")
        XCTAssertEqual(last[5]?.status, "done")
        // Nobody's input was touched; a rerun fails the same jobs again (they were "skipped",
        // exit 0, when any readable WAV at the output counted as done).
        XCTAssertEqual(try Harness.shell("cd \(work) && diff -r in in-copy && cmp link-to-1.wav in-copy/1.wav").status, 0)
        let again = try Harness.shell("\(batch) jobs.jsonl")
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertTrue(again.stderr.contains("9 jobs: 0 done, 2 skipped, 7 failed"), again.stderr)
        try? FileManager.default.removeItem(atPath: Harness.path(work))
    }

    func testDoneIsWhatTheJournalRecordsForThisInputSettingsAndOutput() throws {
        let work = "batch-done-\(UUID().uuidString)"
        var make = "set -e; mkdir -p \(work)/in \(work)/out \(work)/ref; cd \(work)\n"
        for index in 0...2 { make += "sox -n -r 16000 -c 1 -b 16 in/\(index).wav synth 2 sine \(300 + 100 * index) pinknoise vol 0.4 2>/dev/null\n" }
        XCTAssertEqual(try Harness.shell(make).status, 0)
        let manifest = (0...2).map { "{\"input\": \"in/\($0).wav\", \"output\": \"out/\($0).wav\", \"text\": \"vocals\"}\n" }.joined()
        try manifest.write(toFile: Harness.path(work + "/jobs.jsonl"), atomically: true, encoding: .utf8)
        let batch = "cd \(work) && $BIN batch --engine dsp -q"
        func run(_ flags: String, _ expected: String, _ label: String) throws {
            let result = try Harness.shell("\(batch) \(flags) jobs.jsonl")
            XCTAssertEqual(result.status, 0, "\(label): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("3 jobs: \(expected)"), "\(label): \(result.stderr)")
        }
        try run("", "3 done, 0 skipped", "first run")
        try run("", "0 done, 3 skipped", "nothing changed")
        // A newer input (same bytes, new time), an output replaced by another WAV: those jobs run again.
        XCTAssertEqual(try Harness.shell("""
            cd \(work) && sleep 0.05 && touch in/0.wav
            sox -n -r 16000 -c 1 -b 16 out/1.wav synth 2 sine 1000 2>/dev/null
            """).status, 0)
        try run("", "2 done, 1 skipped", "input 0 newer, output 1 replaced")
        let compare = try Harness.shell("cd \(work) && $BIN --engine dsp vocals -q -i in/1.wav -o ref/1.wav && cmp ref/1.wav out/1.wav")
        XCTAssertEqual(compare.status, 0, "the replaced output is the filter's again: \(compare.stderr)")
        // Other settings are another job.
        try run("--remove", "3 done, 0 skipped", "--remove")
        try run("--remove", "0 done, 3 skipped", "--remove again")
        try run("--remove --chunk 2", "3 done, 0 skipped", "--chunk 2")
        // Whole WAVs at every output and no journal (an older run, another tool): all run again.
        try FileManager.default.removeItem(atPath: Harness.path(work + "/.audiosep-batch"))
        try run("", "3 done, 0 skipped", "no journal")
        // The shard count may change between runs: every shard's journal is read.
        let sharded = try Harness.shell("\(batch) --shard 1/2 jobs.jsonl")
        XCTAssertTrue(sharded.stderr.contains("1 jobs: 0 done, 1 skipped"), sharded.stderr)
        try? FileManager.default.removeItem(atPath: Harness.path(work))
    }

    func testAFolderGivenAsAManifestAndALongOutputNameAreHandled() throws {
        let work = "batch-names-\(UUID().uuidString)"
        XCTAssertEqual(try Harness.shell("""
            set -e; mkdir -p \(work)/archive \(work)/out; cd \(work)
            sox -n -r 16000 -c 1 -b 16 archive/a.wav synth 1 sine 300 2>/dev/null
            """).status, 0)
        let folder = try Harness.shell("cd \(work) && $BIN batch --engine dsp archive")
        XCTAssertEqual(folder.status, 1)
        XCTAssertEqual(folder.stderr, "audiosep-stream: 'archive' is a folder, not a manifest: "
                       + "to separate the audio files under it give --query QUERY --out-dir OUT\n")
        // A 250-byte output name, and a temporary output a killed shard left under its shortened
        // temporary name: the job runs and the leftover is removed.
        let name = String(repeating: "l", count: 246) + ".wav"
        let leftover = ".\(StagedOutput.temporaryStem(for: name)).audiosep-Ab12Cd"
        XCTAssertLessThanOrEqual(leftover.utf8.count, 255)
        try Data("stale".utf8).write(to: URL(fileURLWithPath: Harness.path(work + "/out/" + leftover)))
        try "{\"input\": \"archive/a.wav\", \"output\": \"\(name)\", \"text\": \"vocals\"}\n"
            .write(toFile: Harness.path(work + "/jobs.jsonl"), atomically: true, encoding: .utf8)
        let run = try Harness.shell("cd \(work) && $BIN batch --engine dsp -q --out-dir out jobs.jsonl")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("1 jobs: 1 done"), run.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: Harness.path(work + "/out")).sorted(), [".audiosep-batch", name])
        try? FileManager.default.removeItem(atPath: Harness.path(work))
    }
}
