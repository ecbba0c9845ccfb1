@testable import Batch
import Foundation
import XCTest

final class ManifestTests: ManifestFolderTestCase {
    func testJSONLinesWithEveryField() throws {
        let path = write("jobs.jsonl", """
            # a comment, then a blank line

            {"input": "a.wav", "output": "a-v.wav", "text": "vocals"}
            {"input": "b.wav", "output": "/x/b.wav", "embedding": "q.npy", "remove": true, "downmix": false, "chunk": 4, "overlap": 0.5}
            """)
        let jobs = try Manifest.read(path: path, outputFolder: "/out")
        XCTAssertEqual(jobs.count, 2)
        XCTAssertEqual(jobs[0], BatchJob(index: 0, input: "a.wav", output: "/out/a-v.wav", text: "vocals", line: 3))
        var second = BatchJob(index: 1, input: "b.wav", output: "/x/b.wav", embedding: "q.npy", line: 4)
        second.remove = true
        second.chunk = 4
        second.overlap = 0.5
        XCTAssertEqual(jobs[1], second, "an absolute output stays where it is")
    }

    func testCSVWithAHeaderAndQuotedFields() throws {
        let path = write("jobs.csv", "input,output,text,remove\r\n\"a, b.wav\",out.wav,\"a \"\"dog\"\" barking\",true\nc.wav,c-out.wav,drums,\n")
        let jobs = try Manifest.read(path: path)
        XCTAssertEqual(jobs.map(\.input), ["a, b.wav", "c.wav"])
        XCTAssertEqual(jobs.map(\.text), ["a \"dog\" barking", "drums"])
        XCTAssertEqual(jobs.map(\.remove), [true, false])
    }

    func testBadLinesNameTheLineAndTheProblem() {
        let cases: [(String, String, String)] = [
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": \"b.wav\", \"text\": \"v\"}\nnot json\n", "j.jsonl:2: not a JSON object"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"text\": \"v\"}\n", "j.jsonl:1: no output"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": \"b.wav\"}\n", "j.jsonl:1: give either text or embedding"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": \"b.wav\", \"text\": \"v\", \"speed\": 2}\n", "unknown field 'speed'"),
            ("j.csv", "input,output,text\na.wav,b.wav\n", "j.csv:2: 2 fields, the header names 3"),
            ("j.jsonl", "\n# nothing\n", "holds no jobs"),
        ]
        for (name, text, expected) in cases {
            let path = write(name, text)
            XCTAssertThrowsError(try Manifest.read(path: path)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) lacks \(expected)")
            }
        }
        XCTAssertThrowsError(try Manifest.read(path: folder + "/missing.jsonl")) {
            XCTAssertEqual($0 as? BatchError, .cannotRead(path: self.folder + "/missing.jsonl", cause: .errno(ENOENT)))
        }
        XCTAssertThrowsError(try Manifest.read(path: folder)) {
            XCTAssertEqual($0 as? BatchError, .manifestIsFolder(path: self.folder))
            XCTAssertTrue("\($0)".contains("is a folder, not a manifest"), "\($0)")
            XCTAssertTrue("\($0)".contains("--query QUERY --out-dir OUT"), "\($0)")
        }
    }

    func testCollidingFilesFailTheLaterJobsNamingTheOther() throws {
        let folder: String = self.folder
        for name in ["a.wav", "b.wav", "c.wav"] { _ = self.write(name, "RIFF") }
        try FileManager.default.createDirectory(atPath: folder + "/out", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: folder + "/out")
        let jobs = [
            BatchJob(index: 0, input: folder + "/a.wav", output: folder + "/out/x.wav", text: "v", line: 1),
            BatchJob(index: 1, input: folder + "/b.wav", output: folder + "/link/x.wav", text: "v", line: 2),
            BatchJob(index: 2, input: folder + "/c.wav", output: folder + "/link/../a.wav", text: "v", line: 3),
            BatchJob(index: 3, input: folder + "/c.wav", output: folder + "/c.wav", text: "v", line: 4),
            BatchJob(index: 4, input: folder + "/c.wav", output: folder + "/out/y.wav", text: "v", line: 5),
            BatchJob(index: 5, input: folder + "/c.wav", output: folder + "/q.npy", embedding: folder + "/q.npy", line: 6),
            BatchJob(index: 6, input: folder + "/c.wav", output: "/dev/null", text: "v", line: 7),
            BatchJob(index: 7, input: folder + "/c.wav", output: "/dev/null", text: "v", line: 8),
        ]
        let found = JobConflicts(jobs, batchFiles: [(path: folder + "/jobs.jsonl", role: "the manifest")]).failures
        XCTAssertEqual(found.keys.sorted(), [1, 2, 3, 5], "\(found)")
        XCTAssertEqual(found[1] as? BatchError, .sameOutput(path: folder + "/link/x.wav", other: "job 0 (line 1, input '\(folder)/a.wav')"),
                       "the same file through a linked folder, before it exists")
        XCTAssertEqual(found[2] as? BatchError, .outputIsReadByJob(path: folder + "/link/../a.wav", other: "job 0 (line 1, input '\(folder)/a.wav')",
                                                                   role: "input"), "'..' after a link is taken where the link leads")
        XCTAssertEqual("\(found[3]!)", "output '\(folder)/c.wav' is the input file: writing it would destroy the input; name another file")
        XCTAssertEqual(found[5] as? BatchError, .outputIsReadByJob(path: folder + "/q.npy", other: "job 5 (line 6, input '\(folder)/c.wav')",
                                                                   role: "query embedding"))
    }

    func testAFolderTreeIsMirroredAndTheOutputFolderIsNotAnInput() throws {
        for name in ["a/x.flac", "a/b/y.wav", "a/.hidden.wav", "a/notes.txt", "a/out/old.wav"] {
            try FileManager.default.createDirectory(atPath: folder + "/" + (name as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            _ = write(name, "")
        }
        let jobs = try Manifest.tree([folder + "/a"], query: "vocals", outputFolder: folder + "/a/out")
        XCTAssertEqual(jobs.map(\.input), [folder + "/a/b/y.wav", folder + "/a/x.flac"])
        XCTAssertEqual(jobs.map(\.output), [folder + "/a/out/b/y.wav", folder + "/a/out/x.wav"])
        XCTAssertEqual(jobs.map(\.index), [0, 1])
        XCTAssertThrowsError(try Manifest.tree([folder + "/a/b/none"], query: "v", outputFolder: folder + "/o"))
    }
}

final class ShardTests: XCTestCase {
    func testParsingAndMembership() throws {
        let shard = try Shard(parsing: "1/3")
        XCTAssertEqual((0..<7).filter { shard.contains(BatchJob(index: $0, input: "", output: "")) }, [1, 4])
        for bad in ["3/3", "-1/3", "1/0", "1", "a/b", "1/3/4"] {
            XCTAssertThrowsError(try Shard(parsing: bad), bad)
        }
    }

    func testSlurmAndParallelEnvironments() throws {
        XCTAssertEqual(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "16"], shardCount: nil),
                       try Shard(index: 5, count: 16))
        XCTAssertEqual(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_COUNT": "16",
                                                  "SLURM_ARRAY_TASK_MIN": "1"], shardCount: nil),
                       try Shard(index: 5, count: 16), "an array counted from 1")
        XCTAssertEqual(try Shard.fromEnvironment(["PARALLEL_SEQ": "3"], shardCount: 4), try Shard(index: 2, count: 4))
        XCTAssertNil(try Shard.fromEnvironment([:], shardCount: nil))
        XCTAssertThrowsError(try Shard.fromEnvironment([:], shardCount: 4)) {
            XCTAssertTrue("\($0)".contains("PARALLEL_SEQ"))
        }
        XCTAssertThrowsError(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "16", "SLURM_ARRAY_TASK_COUNT": "16"], shardCount: nil))
    }

    func testAJournalLineIsOneJSONObject() throws {
        let record = JobRecord(index: 3, input: "in \"x\".wav", output: "o.wav", status: .failed, error: "cannot open 'in': no\nsuch",
                               seconds: 0.25, audioSeconds: 0)
        let line = record.jsonLine
        XCTAssertTrue(line.hasSuffix("}\n"))
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["status"] as? String, "failed")
        XCTAssertEqual(object["input"] as? String, "in \"x\".wav")
        XCTAssertEqual(object["index"] as? Int, 3)
        XCTAssertNil(object["realtime"])
    }
}
