import Foundation
import Separation
import Stream
@testable import Worker
import XCTest

/// `output_format`: the packaged AudioSep worker's WAV (44.1 kHz, 16-bit, mono made stereo) by
/// default, the input's own format on request; said in `done`.
final class WorkerOutputFormatTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("worker-format-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func session(format: OutputFormat = .default) -> WorkerSession {
        var options = WorkerOptions()
        options.threads = 1
        options.embeddingCache = nil
        options.directory = directory
        options.modelDirectory = directory
        options.environment = [:]
        options.outputFormat = format
        return WorkerSession(options: options)
    }

    /// `channels` tones of different pitch, `seconds` long, at `rate` in `format`.
    func makeInput(_ name: String, seconds: Double, rate: Int, channels: Int,
                   format: SampleFormat) throws -> [[Float]] {
        let frames = Int(seconds * Double(rate))
        let planar = (0..<channels).map { channel in
            (0..<frames).map { Float(0.3 * sin(2 * Double.pi * Double(300 + 200 * channel) * Double($0) / Double(rate))) }
        }
        let sink = try WAVSink(output: try OutputFile(path: directory + "/" + name), sampleRate: rate, channelCount: channels,
                               format: format)
        try sink.write(planar)
        try sink.finish()
        return planar
    }

    func answer(_ session: WorkerSession, _ line: String) throws -> JSONObject {
        try XCTUnwrap(session.handle(line), "no answer").answer
    }

    func read(_ name: String) throws -> (description: InputDescription, planar: [[Float]]) {
        let source = try SndfileSource(.path(directory + "/" + name))
        var planar = [[Float]](repeating: [], count: source.description.channelCount)
        while true {
            let block = try source.read(maxFrames: 65_536)
            guard let count = block.first?.count, count > 0 else { break }
            for channel in planar.indices { planar[channel] += block[channel] }
        }
        return (source.description, planar)
    }

    func testByDefaultAMono16kHz24BitInputIsWrittenAsThePackagedWorkerWritesIt() throws {
        let input = try makeInput("mono.wav", seconds: 1.5, rate: 16_000, channels: 1,
                                  format: try SampleFormat(encoding: .signedInteger, bits: 24))
        let done = try answer(session(), #"{"cmd":"separate","input":"mono.wav","output":"out.wav","engine":"identity","use_chunk":false}"#)
        XCTAssertEqual(done["status"], "done", done.encoded)
        XCTAssertEqual(done["output_format"], "packaged")
        XCTAssertEqual(done["sample_rate"], 44_100)
        XCTAssertEqual(done["channels"], 2)
        XCTAssertEqual(done["bits"], 16)
        XCTAssertEqual(done["encoding"], "signed-integer")
        XCTAssertEqual(done["frames"], .number(1.5 * 44_100))
        XCTAssertEqual(done["duration"], 1.5)
        let (written, planar) = try read("out.wav")
        XCTAssertEqual(written.sampleRate, 44_100)
        XCTAssertEqual(written.channelCount, 2)
        XCTAssertEqual(written.sampleFormat.bits, 16)
        XCTAssertEqual(written.sampleFormat.encoding, .signedInteger)
        XCTAssertEqual(planar[0].count, Int(1.5 * 44_100))
        XCTAssertEqual(planar[0], planar[1], "the mono result on both channels")
        // The identity engine's output is the input brought to 44.1 kHz: the tone's level is kept.
        let peak = planar[0][1_000..<60_000].map(abs).max() ?? 0
        XCTAssertEqual(peak, input[0].map(abs).max() ?? 0, accuracy: 0.01)
    }

    func testOutputFormatInputKeepsTheInputsRateChannelsAndSampleFormat() throws {
        let input = try makeInput("mono.wav", seconds: 1, rate: 16_000, channels: 1,
                                  format: try SampleFormat(encoding: .signedInteger, bits: 24))
        let done = try answer(session(), #"{"cmd":"separate","input":"mono.wav","output":"out.wav","engine":"identity","output_format":"input"}"#)
        XCTAssertEqual(done["output_format"], "input", done.encoded)
        XCTAssertEqual(done["sample_rate"], 16_000)
        XCTAssertEqual(done["channels"], 1)
        XCTAssertEqual(done["bits"], 24)
        let (written, planar) = try read("out.wav")
        XCTAssertEqual(written.sampleRate, 16_000)
        XCTAssertEqual(written.channelCount, 1)
        XCTAssertEqual(written.sampleFormat.bits, 24)
        XCTAssertEqual(planar[0].count, input[0].count)
        // The identity engine (at 32 kHz) gives the input back at its own rate, to the resamplers' error.
        let error = zip(planar[0], input[0]).dropFirst(200).dropLast(200).map { abs($0 - $1) }.max() ?? 1
        XCTAssertLessThan(error, 0.01)
    }

    func testTheSessionsFormatComesFromLoadModelElseTheFlagAndACommandOverridesIt() throws {
        try makeInput("in.wav", seconds: 0.5, rate: 48_000, channels: 2, format: try SampleFormat(encoding: .floatingPoint, bits: 32))
        let separate = #"{"cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity""#
        let flagged = session(format: .input)
        XCTAssertEqual(try answer(flagged, separate + "}")["sample_rate"], 48_000, "--output-format input")
        XCTAssertEqual(try answer(flagged, separate + #","output_format":"packaged"}"#)["sample_rate"], 44_100)
        XCTAssertEqual(try answer(flagged, #"{"cmd":"get_status"}"#)["output_format"], "input")

        let worker = session()
        let model = Self.fixtures + "/worker-tiny/audiosep.ckpt"
        let load = try answer(worker, #"{"cmd":"load_model","checkpoint_path":"\#(model)","output_format":"INPUT"}"#)
        XCTAssertEqual(load["output_format"], "input", load.encoded)
        let kept = try answer(worker, separate + "}")
        XCTAssertEqual(kept["output_format"], "input", kept.encoded)
        XCTAssertEqual(kept["sample_rate"], 48_000)
        XCTAssertEqual(kept["bits"], 32)
        XCTAssertEqual(kept["encoding"], "floating-point")
        XCTAssertEqual(try answer(worker, separate + #","output_format":"packaged"}"#)["bits"], 16)
        // A load_model without the field goes back to the worker's flag, as its other settings go back to their defaults.
        _ = try answer(worker, #"{"cmd":"load_model","checkpoint_path":"\#(model)"}"#)
        XCTAssertEqual(try answer(worker, separate + "}")["output_format"], "packaged")
    }

    func testAWrongOutputFormatIsRefusedNamingTheChoices() throws {
        try makeInput("in.wav", seconds: 0.2, rate: 44_100, channels: 2, format: try SampleFormat(encoding: .signedInteger, bits: 16))
        let reply = try answer(session(), #"{"cmd":"separate","input":"in.wav","output":"out.wav","output_format":"flac"}"#)
        XCTAssertEqual(reply["message"], "Invalid value for 'output_format': flac (expected packaged or input)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/out.wav"))
    }

    func testMoreThanTwoChannelsKeepTheirCountAsInThePackagedPipeline() throws {
        let input = try makeInput("six.wav", seconds: 0.5, rate: 22_050, channels: 6,
                                  format: try SampleFormat(encoding: .signedInteger, bits: 16))
        let done = try answer(session(), #"{"cmd":"separate","input":"six.wav","output":"out.wav","engine":"identity"}"#)
        XCTAssertEqual(done["channels"], 6, done.encoded)
        XCTAssertEqual(done["sample_rate"], 44_100)
        let (written, planar) = try read("out.wav")
        XCTAssertEqual(written.channelCount, 6)
        XCTAssertEqual(written.sampleRate, 44_100)
        XCTAssertEqual(planar[0].count, 22_050)
        for channel in 0..<6 {
            let peak = planar[channel][500..<21_000].map(abs).max() ?? 0
            XCTAssertEqual(peak, input[channel].map(abs).max() ?? 0, accuracy: 0.01, "channel \(channel) is its own")
        }
        XCTAssertNotEqual(planar[0], planar[1])
    }

    func testOutputSampleRateReplacesThePackagedRate() throws {
        try makeInput("in.wav", seconds: 0.5, rate: 16_000, channels: 1, format: try SampleFormat(encoding: .signedInteger, bits: 16))
        let done = try answer(session(), #"{"cmd":"separate","input":"in.wav","output":"out.wav","engine":"identity","output_sample_rate":48000}"#)
        XCTAssertEqual(done["sample_rate"], 48_000, done.encoded)
        XCTAssertEqual(done["channels"], 2)
        XCTAssertEqual(done["frames"], 24_000)
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
}
