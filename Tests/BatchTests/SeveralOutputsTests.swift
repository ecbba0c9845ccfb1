@testable import Batch
import Foundation
import XCTest

/// Manifest rows that name several queries: parsing, collisions over every output, and done
/// detection that needs every output.
final class SeveralOutputsTests: ManifestFolderTestCase {
    func testJSONListsAndPatterns() throws {
        let path = write("jobs.jsonl", """
            {"input": "a.wav", "output": ["a-v.wav", "/abs/a-d.wav"], "text": ["vocals", "drums"]}
            {"input": "b.wav", "output": "b/{query}.wav", "text": ["vocals", "a dog barking"], "rest": "b/rest.wav"}
            {"input": "c.wav", "output": "c/{query}.wav", "text": "vocals"}
            {"input": "d.wav", "output": ["d.wav"], "text": ["vocals"]}
            {"input": "e.wav", "output": "e.wav", "text": "vocals", "rest": "/r/e.wav"}
            """)
        let jobs = try Manifest.read(path: path, outputFolder: "/out")
        XCTAssertEqual(jobs.count, 5)
        XCTAssertEqual(jobs[0], BatchJob(index: 0, input: "a.wav", outputs: ["/out/a-v.wav", "/abs/a-d.wav"], texts: ["vocals", "drums"], line: 1))
        XCTAssertNil(jobs[0].text, "several queries are no one text")
        XCTAssertEqual(jobs[1].outputs, ["/out/b/vocals.wav", "/out/b/a-dog-barking.wav"], "{query} expanded to each query's safe name")
        XCTAssertEqual(jobs[1].rest, "/out/b/rest.wav")
        XCTAssertEqual(jobs[1].allOutputs, ["/out/b/vocals.wav", "/out/b/a-dog-barking.wav", "/out/b/rest.wav"])
        XCTAssertEqual(jobs[2], BatchJob(index: 2, input: "c.wav", output: "/out/c/{query}.wav", text: "vocals", line: 3),
                       "one query as a string: the output as written, as ever")
        XCTAssertEqual(jobs[3], BatchJob(index: 3, input: "d.wav", output: "/out/d.wav", text: "vocals", line: 4),
                       "a list of one is the one-query job")
        XCTAssertEqual(jobs[4].allOutputs, ["/out/e.wav", "/r/e.wav"])
        XCTAssertEqual(jobs[4].text, "vocals")
    }

    func testCSVBarSeparatedQueriesAndOutputs() throws {
        let path = write("jobs.csv", """
            input,output,text,rest
            a.wav,out/{query}.wav,vocals | drums,out/a-rest.wav
            b.wav,b-v.wav|b-d.wav,vocals|drums,
            c.wav,c.wav,vocals,
            """)
        let jobs = try Manifest.read(path: path)
        XCTAssertEqual(jobs.map(\.texts), [["vocals", "drums"], ["vocals", "drums"], ["vocals"]])
        XCTAssertEqual(jobs.map(\.outputs), [["out/vocals.wav", "out/drums.wav"], ["b-v.wav", "b-d.wav"], ["c.wav"]])
        XCTAssertEqual(jobs.map(\.rest), ["out/a-rest.wav", nil, nil])
    }

    func testMismatchedRowsAreOneBadLineNamingIt() {
        let cases: [(String, String, String)] = [
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": \"o.wav\", \"text\": \"v\"}\n"
                + "{\"input\": \"a.wav\", \"output\": [\"x.wav\"], \"text\": [\"vocals\", \"drums\"]}\n",
             "j.jsonl:2: text names 2 queries but output names 1 file; give one output per query"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": [\"x.wav\", \"y.wav\", \"z.wav\"], \"text\": [\"v\", \"d\"]}\n",
             "j.jsonl:1: text names 2 queries but output names 3 files"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": \"x.wav\", \"text\": [\"vocals\", \"drums\"]}\n",
             "j.jsonl:1: text names 2 queries and output one file: give a list of 2 outputs or one with {query} in it"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": [\"x.wav\", \"y.wav\"], \"text\": \"vocals\"}\n",
             "j.jsonl:1: text names 1 query but output names 2 files"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": [\"x.wav\", \"y.wav\"], \"embedding\": \"q.npy\"}\n",
             "j.jsonl:1: text names 1 query but output names 2 files"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": \"x.wav\", \"text\": []}\n", "j.jsonl:1: text is an empty list"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": \"{query}.wav\", \"text\": [\"v\", \" \"]}\n", "j.jsonl:1: query 2 of text is empty"),
            ("j.jsonl", "{\"input\": [\"a.wav\"], \"output\": \"x.wav\", \"text\": \"v\"}\n", "j.jsonl:1: input takes one value, not a list"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": \"o/{query}.wav\", \"text\": [\"a dog\", \"a-dog\"]}\n",
             "j.jsonl:1: the output of 'a dog' and the output of 'a-dog' are both 'o/a-dog.wav'"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": [\"x.wav\", \"y.wav\"], \"text\": [\"v\", \"d\"], \"rest\": \"./y.wav\"}\n",
             "j.jsonl:1: the output of 'd' and rest are both './y.wav'"),
            ("j.jsonl", "{\"input\": \"a.wav\", \"output\": \"x.wav\", \"text\": [\"v\", 3]}\n", "j.jsonl:1: not a JSON object"),
            ("j.csv", "input,output,text\na.wav,x.wav,v\na.wav,out.wav,vocals|drums\n",
             "j.csv:3: text names 2 queries and output one file"),
            ("j.csv", "input,output,text\na.wav,x.wav|y.wav|z.wav,vocals|drums\n", "j.csv:2: text names 2 queries but output names 3 files"),
        ]
        for (name, text, expected) in cases {
            let path = write(name, text)
            XCTAssertThrowsError(try Manifest.read(path: path), expected) { error in
                guard case .badLine? = error as? BatchError else { return XCTFail("\(error) is not a bad line") }
                XCTAssertTrue("\(error)".hasPrefix(path), "\(error) names the file")
                XCTAssertTrue("\(error)".contains(expected), "\(error) lacks \(expected)")
            }
        }
    }

    func testConflictsCoverEveryOutput() throws {
        let folder: String = self.folder
        for name in ["a.wav", "b.wav", "c.wav", "d.wav"] { _ = write(name, "RIFF") }
        try FileManager.default.createDirectory(atPath: folder + "/out", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: folder + "/out")
        let jobs = [
            BatchJob(index: 0, input: folder + "/a.wav", outputs: [folder + "/out/v.wav", folder + "/out/d.wav"], texts: ["v", "d"],
                     rest: folder + "/out/rest.wav", line: 1),
            // Its second output is job 0's rest.
            BatchJob(index: 1, input: folder + "/b.wav", outputs: [folder + "/out/b.wav", folder + "/link/rest.wav"], texts: ["v", "d"], line: 2),
            // Its rest is job 3's input.
            BatchJob(index: 2, input: folder + "/c.wav", outputs: [folder + "/out/c1.wav", folder + "/out/c2.wav"], texts: ["v", "d"],
                     rest: folder + "/d.wav", line: 3),
            // Its second output is its own input.
            BatchJob(index: 3, input: folder + "/d.wav", outputs: [folder + "/out/d1.wav", folder + "/d.wav"], texts: ["v", "d"], line: 4),
            // Two of its outputs are one file through a link.
            BatchJob(index: 4, input: folder + "/d.wav", outputs: [folder + "/out/e.wav", folder + "/link/e.wav"], texts: ["v", "d"], line: 5),
            // A one-output job writing the second output of job 0.
            BatchJob(index: 5, input: folder + "/d.wav", output: folder + "/link/d.wav", text: "v", line: 6),
            BatchJob(index: 6, input: folder + "/d.wav", outputs: [folder + "/out/f1.wav", folder + "/out/f2.wav"], texts: ["v", "d"],
                     rest: folder + "/out/f3.wav", line: 7),
        ]
        let found = JobConflicts(jobs).failures
        XCTAssertEqual(found.keys.sorted(), [1, 2, 3, 4, 5], "\(found)")
        let first = "job 0 (line 1, input '\(folder)/a.wav')"
        XCTAssertEqual(found[1] as? BatchError, .sameOutput(path: folder + "/link/rest.wav", other: first))
        XCTAssertEqual(found[2] as? BatchError, .outputIsReadByJob(path: folder + "/d.wav", other: "job 3 (line 4, input '\(folder)/d.wav')",
                                                                   role: "input"))
        XCTAssertEqual("\(found[3]!)", "output '\(folder)/d.wav' is the input file: writing it would destroy the input; name another file")
        XCTAssertEqual(found[4] as? BatchError, .sameOutputInJob(path: folder + "/link/e.wav"))
        XCTAssertEqual(found[5] as? BatchError, .sameOutput(path: folder + "/link/d.wav", other: first))
    }

    func testDoneNeedsEveryOutputAndOneOutputLinesReadAsEver() throws {
        let input = write("in.wav", "RIFF")
        let outputs = [write("v.wav", "vv"), write("d.wav", "dd"), write("rest.wav", "rr")]
        var job = BatchJob(index: 0, input: input, outputs: Array(outputs[0...1]), texts: ["vocals", "drums"], rest: outputs[2], line: 1)
        let settings = JobSettings(job, engine: "dsp")
        XCTAssertEqual(settings.texts, ["vocals", "drums"])
        XCTAssertEqual(settings.rest, true)
        let stamp = DoneStamp(inputFile: try XCTUnwrap(FileStamp(path: input)), settings: settings,
                              outputFiles: outputs.compactMap(OutputStamp.init(path:)))
        var record = JobRecord(index: 0, input: input, output: outputs[0], status: .done, error: nil, seconds: 1, audioSeconds: 1)
        record.outputs = job.allOutputs
        record.stamp = stamp
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(record.jsonLine.utf8)) as? [String: Any])
        XCTAssertEqual(object["outputs"] as? [String], outputs)
        XCTAssertEqual((object["output_files"] as? [Any])?.count, 3)
        XCTAssertNil(object["output_file"])
        let journal = folder + "/.audiosep-batch"
        try FileManager.default.createDirectory(atPath: journal, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: journal + "/shard-0.jsonl", contents: Data(record.jsonLine.utf8))

        func done() -> Bool {
            DoneRecords(folder: journal, outputs: [outputs[0]]).done(input: input, outputs: job.allOutputs, settings: JobSettings(job, engine: "dsp")) != nil
        }
        XCTAssertTrue(done(), "every output as the job left it")
        job.rest = nil
        XCTAssertFalse(done(), "without the rest it is another job")
        job.rest = outputs[2]
        job.texts = ["drums", "vocals"]
        XCTAssertFalse(done(), "queries in another order are another job")
        job.texts = ["vocals", "drums"]
        try FileManager.default.removeItem(atPath: outputs[1])
        XCTAssertFalse(done(), "one output missing: not done")
        _ = write("d.wav", "dd")
        XCTAssertFalse(done(), "one output replaced: not done")

        // A one-output job: the journal line is as it was, and a line written before lists existed reads.
        let single = BatchJob(index: 0, input: input, output: outputs[0], text: "vocals", line: 1)
        let singleStamp = DoneStamp(inputFile: try XCTUnwrap(FileStamp(path: input)), settings: JobSettings(single, engine: "dsp"),
                                    outputFile: try XCTUnwrap(OutputStamp(path: outputs[0])))
        var singleRecord = JobRecord(index: 0, input: input, output: outputs[0], status: .done, error: nil, seconds: 1, audioSeconds: 1)
        singleRecord.stamp = singleStamp
        let line = singleRecord.jsonLine
        XCTAssertFalse(line.contains("\"outputs\"") || line.contains("output_files") || line.contains("\"texts\"") || line.contains("\"rest\""), line)
        XCTAssertTrue(line.contains(",\"output_file\":{\"mtime_ns\":"), line)
        XCTAssertTrue(line.contains("\"settings\":{\"downmix\":false,\"engine\":\"dsp\",\"remove\":false,\"text\":\"vocals\"}"), line)
        FileManager.default.createFile(atPath: journal + "/shard-0.jsonl", contents: Data(line.utf8))
        XCTAssertNotNil(DoneRecords(folder: journal, outputs: [outputs[0]]).done(input: input, output: outputs[0],
                                                                                   settings: JobSettings(single, engine: "dsp")))
    }
}
