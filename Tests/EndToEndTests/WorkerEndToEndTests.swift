import Foundation
import TestSupport
import XCTest

/// `audiosep-stream --worker` driven as the packaged AudioSep worker's hosts drive it: command
/// lines on stdin, one JSON answer per line on stdout, read back with Foundation's parser.
final class WorkerEndToEndTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
    static let checkpoint = fixtures + "/worker-tiny/audiosep.ckpt"
    static let clap = fixtures + "/clap-tiny/clap.pt"
    static let roberta = fixtures + "/clap-tiny/roberta-base"

    /// The packaged AudioSep worker's load_model line (from its benchmark document), with the
    /// fixture model's files in place of the real ones (and its relative config_path, which names
    /// no file here: the worker does not need it).
    static let loadModel = #"{"cmd":"load_model","config_path":"config/audiosep_base.yaml","checkpoint_path":"\#(checkpoint)","clap_checkpoint_path":"\#(clap)","roberta_dir":"\#(roberta)"}"#

    struct Session {
        var answers: [[String: Any]]
        var run: Harness.Result
    }

    /// Feeds `lines` to the worker on stdin (a fresh HOME, so no query comes from an earlier run's cache).
    func worker(_ lines: [String], flags: String = "--worker", environment: String = "") throws -> Session {
        let commands = Harness.path("commands-\(UUID().uuidString).jsonl")
        try (lines.joined(separator: "\n") + "\n").write(toFile: commands, atomically: true, encoding: .utf8)
        let home = Harness.path("home-\(UUID().uuidString)")
        let run = try Harness.shell("HOME=\(home) \(environment) $BIN \(flags) < \(commands)")
        let text = String(decoding: run.stdout, as: UTF8.self)
        var answers: [[String: Any]] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            answers.append(try XCTUnwrap(object, "not a JSON object: \(line)"))
        }
        XCTAssertTrue(text.isEmpty || text.hasSuffix("\n"), "every answer ends its line")
        return Session(answers: answers, run: run)
    }

    func makeInput(_ name: String, seconds: Double, rate: Int = 44_100, channels: Int = 2) throws -> String {
        let path = Harness.path(name)
        let made = try Harness.shell("sox -n -r \(rate) -c \(channels) -b 16 \(path) synth \(seconds) pluck C3 sine 1250 vol 0.5")
        XCTAssertEqual(made.status, 0, made.stderr)
        return path
    }

    func testThePackagedWorkersExampleSequence() throws {
        let input = try makeInput("test_4s.wav", seconds: 4)
        let cold = Harness.path("audiosep_4s.wav"), warm = Harness.path("audiosep_4s_warm.wav")
        let session = try worker([
            Self.loadModel,
            #"{"cmd":"separate","input":"\#(input)","output":"\#(cold)","text":"vocals","use_chunk":true}"#,
            #"{"cmd":"separate","input":"\#(input)","output":"\#(warm)","text":"vocals","use_chunk":true}"#,
            #"{"cmd":"exit"}"#,
        ])
        XCTAssertEqual(session.run.status, 0, session.run.stderr)
        let answers = session.answers
        XCTAssertEqual(answers.map { $0["status"] as? String }, ["loading", "ready", "model_loaded", "done", "done", "exiting"],
                       session.run.stderr)
        guard answers.count == 6 else { return }
        XCTAssertEqual(answers[1]["device"] as? String, "cpu")
        XCTAssertEqual(answers[2]["cached"] as? Bool, false)
        XCTAssertEqual(answers[2]["checkpoint_path"] as? String, Self.checkpoint)
        XCTAssertNotNil(answers[2]["elapsed"] as? Double)
        for (answer, output) in [(answers[3], cold), (answers[4], warm)] {
            XCTAssertEqual(answer["files"] as? [String], [output])
            XCTAssertEqual(answer["engine"] as? String, "audiosep")
            XCTAssertEqual(answer["duration"] as? Double, 4)
            XCTAssertEqual(answer["sample_rate"] as? Int, 44_100)
            XCTAssertEqual(answer["channels"] as? Int, 2)
            XCTAssertEqual(answer["use_chunk"] as? Bool, true)
            XCTAssertGreaterThan(answer["elapsed"] as? Double ?? 0, 0)
            let audio = try Harness.readAudio(output)
            XCTAssertEqual(audio.rate, 44_100)
            XCTAssertEqual(audio.channels.count, 2)
            XCTAssertEqual(audio.channels[0].count, 4 * 44_100)
        }
        XCTAssertEqual(answers[3]["query_cached"] as? Bool, false, "cold: the text encoder ran")
        XCTAssertEqual(answers[4]["query_cached"] as? Bool, true, "warm: the embedding was kept")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: cold)), try Data(contentsOf: URL(fileURLWithPath: warm)))

        // The worker separates exactly as the command line does with the same files.
        let cli = Harness.path("audiosep_4s_cli.wav")
        let direct = try Harness.shell("HOME=\(Harness.path("home-cli")) $BIN vocals --checkpoint \(Self.checkpoint) --clap-checkpoint \(Self.clap) --roberta-dir \(Self.roberta) -o \(cli) < \(input)")
        XCTAssertEqual(direct.status, 0, direct.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: cold)), try Data(contentsOf: URL(fileURLWithPath: cli)))
        XCTAssertTrue(session.run.stderr.contains("audiosep-stream worker: loaded"), session.run.stderr)
    }

    func testMalformedCommandsAreAnsweredAndTheWorkerKeepsServing() throws {
        let input = try makeInput("malformed-in.wav", seconds: 2, rate: 22_050, channels: 1)
        let garbage = Harness.path("garbage.wav")
        try Data((0..<4096).map { UInt8(($0 * 37) % 256) }).write(to: URL(fileURLWithPath: garbage))
        let output = Harness.path("malformed-out.wav")
        let session = try worker([
            #"{"cmd":"separate","input":"#,
            #"{"cmd":"transmogrify"}"#,
            #"{"cmd":"separate","input":"\#(input)","text":"vocals"}"#,
            "",
            #"{"cmd":"separate","input":"\#(garbage)","output":"\#(output)","text":"vocals"}"#,
            #"{"cmd":"load_model","checkpoint_path":"/nonexistent/audiosep_base_4M_steps.ckpt","clap_checkpoint_path":"\#(Self.clap)"}"#,
            #"{"cmd":"separate","input":"\#(input)","output":"\#(output)","text":"the singer's voice","use_chunk":false}"#,
        ])  // no exit: end of input ends the worker too
        XCTAssertEqual(session.run.status, 0, session.run.stderr)
        let answers = Array(session.answers.dropFirst(2))
        XCTAssertEqual(answers.count, 6, "one answer per non-blank line: \(session.answers)")
        guard answers.count == 6 else { return }
        let messages = answers.prefix(5).map { $0["message"] as? String ?? "" }
        for answer in answers.prefix(5) { XCTAssertEqual(answer["status"] as? String, "error") }
        XCTAssertTrue(messages[0].hasPrefix("Invalid JSON"), messages[0])
        XCTAssertTrue(messages[1].hasPrefix("Unknown command: transmogrify"), messages[1])
        XCTAssertEqual(messages[2], "Missing field 'output' in separate")
        XCTAssertTrue(messages[3].hasPrefix("Separation failed: cannot open '\(garbage)'"), messages[3])
        XCTAssertEqual(messages[4], "Checkpoint not found: /nonexistent/audiosep_base_4M_steps.ckpt")
        let done = answers[5]
        XCTAssertEqual(done["status"] as? String, "done", "\(done)")
        XCTAssertEqual(done["engine"] as? String, "dsp", "no model loaded: the built-in engine")
        XCTAssertTrue((done["note"] as? String ?? "").contains("built-in engine"))
        XCTAssertEqual(done["use_chunk"] as? Bool, false)
        // The packaged worker's format: 22.05 kHz mono in, 44.1 kHz with the mono result on both channels out.
        XCTAssertEqual(done["sample_rate"] as? Int, 44_100)
        XCTAssertEqual(done["channels"] as? Int, 2)
        let audio = try Harness.readAudio(output)
        XCTAssertEqual(audio.rate, 44_100)
        XCTAssertEqual(audio.channels.count, 2)
        XCTAssertEqual(audio.channels[0].count, 2 * 44_100)
        XCTAssertEqual(audio.channels[0], audio.channels[1])
        XCTAssertGreaterThan(audio.channels[0].map(abs).max() ?? 0, 0.01, "something was separated")
        XCTAssertEqual(session.run.stderr.components(separatedBy: "error: ").count - 1, 5, session.run.stderr)
    }

    func testTheCacheSequence() throws {
        let other = Self.fixtures + "/audiosep-tiny/tiny.safetensors"
        let loadOther = #"{"cmd":"load_model","model":"\#(other)"}"#
        // The packaged worker's cache test: the second load_model of the same model is answered from the cache.
        let two = try worker([Self.loadModel, Self.loadModel, loadOther, Self.loadModel, #"{"cmd":"exit"}"#],
                             flags: "--worker --max-cached-models 2")
        XCTAssertEqual(two.run.status, 0, two.run.stderr)
        let loads = two.answers.filter { $0["status"] as? String == "model_loaded" }
        XCTAssertEqual(loads.map { $0["cached"] as? Bool }, [false, true, false, true])
        XCTAssertEqual(loads.map { $0["cache_size"] as? Int }, [1, 1, 2, 2])
        XCTAssertEqual(two.answers[1]["max_cached_models"] as? Int, 2)
        let first = try XCTUnwrap(loads[0]["elapsed"] as? Double), second = try XCTUnwrap(loads[1]["elapsed"] as? Double)
        XCTAssertGreaterThan(first, 0)
        XCTAssertLessThan(second, first / 4, "a cached load is well under a real one")

        // One model kept (the default): the third load evicted the first.
        let one = try worker([Self.loadModel, loadOther, Self.loadModel])
        XCTAssertEqual(one.answers.filter { $0["status"] as? String == "model_loaded" }.map { $0["cached"] as? Bool },
                       [false, false, false])
        // The environment sets the size when the flag does not.
        let fromEnvironment = try worker([Self.loadModel, loadOther, Self.loadModel], flags: "worker",
                                         environment: "AUDIOSEP_MAX_CACHED_MODELS=2")
        XCTAssertEqual(fromEnvironment.answers.filter { $0["status"] as? String == "model_loaded" }.map { $0["cached"] as? Bool },
                       [false, false, true])
        let bad = try worker([], flags: "worker", environment: "AUDIOSEP_MAX_CACHED_MODELS=lots")
        XCTAssertNotEqual(bad.run.status, 0)
        XCTAssertTrue(bad.run.stderr.contains("AUDIOSEP_MAX_CACHED_MODELS"), bad.run.stderr)
    }

    func testEachAnswerArrivesBeforeTheNextCommandIsSent() throws {
        // A host that waits for each answer before writing the next command: answers must not sit in a buffer.
        let input = try makeInput("interactive.wav", seconds: 1)
        let script = """
            coproc WORKER { $BIN --worker; }
            for expected in loading ready; do read -t 20 -r line <&"${WORKER[0]}" || exit 3; echo "$line"; done
            echo '{"cmd":"separate","input":"\(input)","output":"\(Harness.path("interactive-out.wav"))","text":"drums"}' >&"${WORKER[1]}"
            read -t 20 -r line <&"${WORKER[0]}" || exit 4; echo "$line"
            echo '{"cmd":"get_status"}' >&"${WORKER[1]}"
            read -t 20 -r line <&"${WORKER[0]}" || exit 5; echo "$line"
            echo '{"cmd":"exit"}' >&"${WORKER[1]}"
            read -t 20 -r line <&"${WORKER[0]}" || exit 6; echo "$line"
            wait $WORKER_PID
            """
        let run = try Harness.shell("HOME=\(Harness.path("home-interactive")) bash -c \(shellQuote(script))")
        XCTAssertEqual(run.status, 0, run.stderr)
        let statuses = String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").map { line -> String in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["status"] as? String ?? "?"
        }
        XCTAssertEqual(statuses, ["loading", "ready", "done", "status", "exiting"])
    }

    func testTheSubcommandAndTheAliasAreTheSameWorker() throws {
        for flags in ["worker", "--worker", "--worker --max-cached-models 3", "worker -q"] {
            let session = try worker([#"{"cmd":"get_status"}"#, #"{"cmd":"exit"}"#], flags: flags)
            XCTAssertEqual(session.run.status, 0, "\(flags): \(session.run.stderr)")
            XCTAssertEqual(session.answers.map { $0["status"] as? String }, ["loading", "ready", "status", "exiting"], flags)
            XCTAssertEqual(session.answers.last?.count, 1)
        }
        XCTAssertEqual(try worker([], flags: "--worker --max-cached-models 3").answers[1]["max_cached_models"] as? Int, 3)
        XCTAssertTrue(try worker(["{"], flags: "worker -q").run.stderr.isEmpty, "-q: no log lines")
    }

    func testAHostThatClosesStderrStillGetsItsAnswers() throws {
        // Logs go to a closed pipe (EPIPE): the worker goes on answering on stdout.
        let input = try makeInput("closed-stderr.wav", seconds: 1)
        let commands = Harness.path("closed-stderr.jsonl")
        try ([#"{"bad"#, #"{"cmd":"separate","input":"\#(input)","output":"\#(Harness.path("closed-stderr-out.wav"))","text":"drums"}"#,
              #"{"cmd":"exit"}"#].joined(separator: "\n") + "\n").write(toFile: commands, atomically: true, encoding: .utf8)
        let run = try Harness.shell("(sleep 0.3; HOME=\(Harness.path("home-closed")) exec $BIN --worker < \(commands)) 2> >(true) | cat")
        XCTAssertEqual(run.status, 0, run.stderr)
        let statuses = String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").map { line -> String in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["status"] as? String ?? "?"
        }
        XCTAssertEqual(statuses, ["loading", "ready", "error", "done", "exiting"])
    }

    private func shellQuote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
