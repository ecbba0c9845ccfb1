import Foundation
import Separation
import Stream
@testable import Worker
import XCTest

/// The session's side of the hardening: a stop request before a job, the input through a hard
/// link, error answers timed, errors kept typed.
final class WorkerHardeningTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("worker-hardening-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let sink = try WAVSink(output: try OutputFile(path: directory + "/in.wav"), sampleRate: 8000, channelCount: 1,
                               format: try SampleFormat(encoding: .signedInteger, bits: 16))
        try sink.write([(0..<8000).map { Float(0.5 * sin(Double($0) / 10)) }])
        try sink.finish()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func session() -> WorkerSession {
        var options = WorkerOptions()
        options.threads = 1
        options.embeddingCache = nil
        options.directory = directory
        options.environment = [:]
        return WorkerSession(options: options)
    }

    /// A job's answer says where its time went: the engine, the input opened, the run set up, the
    /// pipeline, the commit; each a number of seconds, together no more than `elapsed`.
    func testTheAnswerTimesTheJobsFixedCosts() throws {
        let reply = try XCTUnwrap(session().handle(#"{"cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity"}"#))
        XCTAssertEqual(reply.answer["status"], "done")
        guard case .number(let elapsed)? = reply.answer["elapsed"], let timings = reply.answer["timings"]?.objectValue else {
            return XCTFail("\(reply.answer.encoded)")
        }
        var total = 0.0
        for key in ["engine", "open", "setup", "pipeline", "commit"] {
            guard case .number(let seconds)? = timings[key] else { return XCTFail("no \(key) in \(timings.encoded)") }
            XCTAssertGreaterThanOrEqual(seconds, 0, key)
            total += seconds
        }
        guard case .number(let pipeline)? = timings["pipeline"] else { return XCTFail() }
        XCTAssertGreaterThan(pipeline, 0)
        XCTAssertLessThanOrEqual(total, elapsed + 0.002, timings.encoded)
    }

    func testAStopBeforeTheJobCreatesNothingAndSaysSo() throws {
        let worker = session()
        worker.job.cancellation.request()
        let reply = try XCTUnwrap(worker.handle(#"{"cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity"}"#))
        XCTAssertEqual(reply.answer["status"], "error")
        XCTAssertEqual(reply.interruption, "the separation had not begun, nothing was written to '\(directory)/out.wav'")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["in.wav"])
    }

    func testAHardLinkedOutputIsTheInputAndKeepsItTyped() throws {
        XCTAssertEqual(link(directory + "/in.wav", directory + "/same.wav"), 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: directory + "/in.wav"))
        let request = try WorkerRequest.parse(#"{"cmd":"separate","input":"\#(directory)/in.wav","output":"\#(directory)/same.wav"}"#)
        guard case .separate(let separate) = request else { return XCTFail("\(request)") }
        XCTAssertThrowsError(try SeparationJob.run(separate, engine: IdentityEngine(), autoChunkSeconds: 30, maxPassSeconds: 60)) { error in
            XCTAssertEqual(WorkerError.separation(error), .stream(.outputIsInput(path: directory + "/same.wav")))
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/in.wav")), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["in.wav", "same.wav"])
    }

    func testErrorAnswersAreTimedFromTheirCommand() throws {
        let worker = session()
        let received = Date(timeIntervalSinceNow: -1.5)
        let reply = worker.refuse(WorkerError.lineTooLong(limitBytes: 10), receivedAt: received)
        guard case .number(let elapsed)? = reply.answer["elapsed"] else { return XCTFail(reply.line) }
        XCTAssertEqual(elapsed, 1.5, accuracy: 0.2)
        XCTAssertNil(reply.interruption)
        let folder = try XCTUnwrap(worker.handle(#"{"cmd":"separate","input":".","output":"o.wav","engine":"identity"}"#))
        XCTAssertEqual(folder.answer["message"], .string("Separation failed: input '\(directory)' is a folder, not an audio file"))
        XCTAssertNotNil(folder.answer["elapsed"])
    }
}
