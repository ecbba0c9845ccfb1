import Foundation
import Stream
import TestSupport
import XCTest

/// `audiosep-stream model download` through the real binary, against a loopback HTTP server
/// (Tests/Servers/model_server.py) serving the tiny fixture model under the real relative paths,
/// revision segment included (`REPOSITORY/resolve/COMMIT/PATH`). Only the base URL and the
/// manifest's sizes and sums differ from what a user runs.
final class DownloadEndToEndTests: XCTestCase {
    static let fixtures = Fixtures.path()
    static let rawMono = "-t raw -r 32000 -c 1 -b 32 -e float --out-type raw"
    static let float32 = try! SampleFormat(encoding: .floatingPoint, bits: 32)

    /// The mirror's files: a tiny AudioSep checkpoint holding both a whole ResUNet30 and the text
    /// overrides that match the tiny CLAP checkpoint and roberta-base folder (worker-tiny's, built
    /// from audiosep-tiny's network and clap-tiny's text tensors), so text queries work end to end.
    static let sources: [String: String] = [
        "roberta-base/config.json": "clap-tiny/roberta-base/config.json",
        "roberta-base/vocab.json": "clap-tiny/roberta-base/vocab.json",
        "roberta-base/merges.txt": "clap-tiny/roberta-base/merges.txt",
        "roberta-base/pytorch_model.bin": "clap-tiny/roberta-base/pytorch_model.bin",
        "music_speech_audioset_epoch_15_esc_89.98.pt": "clap-tiny/clap.pt",
        "audiosep_base_4M_steps.ckpt": "worker-tiny/audiosep.ckpt",
    ]

    var server: ModelServer!
    var work: String!
    /// The built-in table with the fixtures' sizes and sums: what `--manifest` gets.
    var manifest: String!
    /// Each file's URL under the base URL, from the binary's own table (`path` → `url`).
    var relative: [String: String] = [:]

    override func setUpWithError() throws {
        work = Harness.path("download-\(UUID().uuidString)")
        let mirror = work + "/mirror"
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        // The relative URLs come from the binary's own table.
        let printed = try Harness.shell("$BIN model manifest")
        XCTAssertEqual(printed.status, 0, printed.stderr)
        var table = try XCTUnwrap(JSONSerialization.jsonObject(with: printed.stdout) as? [String: Any])
        var files = try XCTUnwrap(table["files"] as? [[String: Any]])
        for index in files.indices {
            let path = try XCTUnwrap(files[index]["path"] as? String)
            let url = try XCTUnwrap(files[index]["url"] as? String)
            relative[path] = url
            let source = Self.fixtures + "/" + (try XCTUnwrap(Self.sources[path], path))
            let served = mirror + "/" + url
            try FileManager.default.createDirectory(atPath: (served as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: source, toPath: served)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: source))
            files[index]["size"] = bytes.count
            files[index]["sha256"] = try Self.sha256sum(source)
        }
        table["files"] = files
        manifest = work + "/manifest.json"
        try JSONSerialization.data(withJSONObject: table).write(to: URL(fileURLWithPath: manifest))
        do {
            server = try ModelServer(root: mirror, log: work + "/requests.jsonl", lifetime: 120)
        } catch is ModelServer.DidNotStart {
            throw XCTSkip("the test server did not start (python3 missing?)")
        }
    }

    override func tearDown() {
        server?.stop()
        _ = try? Harness.shell("umount \(work!)/small-disk 2>/dev/null")
        try? FileManager.default.removeItem(atPath: work)
    }

    func download(_ mode: String, _ extra: String = "", environment: String = "") throws -> Harness.Result {
        try Harness.shell("HOME=\(work!)/home \(environment) $BIN model download --base-url \(server.base)/\(mode) --manifest \(manifest!) \(extra)")
    }

    var modelFolder: String { work + "/home/.cache/audiosep-stream" }

    func assertModelComplete(in folder: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for (path, source) in Self.sources {
            XCTAssertEqual(FileManager.default.contents(atPath: folder + "/" + path),
                           FileManager.default.contents(atPath: Self.fixtures + "/" + source), path, file: file, line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/" + path + ".part"), path, file: file, line: line)
        }
    }

    /// The error is the run's last stderr line, alone of its kind, naming the file and the URL.
    func assertOneLineError(_ run: Harness.Result, _ fragment: String, file name: String, url: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 1, run.stderr, file: file, line: line)
        let lines = run.stderr.split(separator: "\n").map(String.init)
        let last = lines.last ?? ""
        XCTAssertTrue(last.hasPrefix("audiosep-stream: \(name): "), run.stderr, file: file, line: line)
        XCTAssertTrue(last.contains(fragment), run.stderr, file: file, line: line)
        XCTAssertTrue(last.contains(url), run.stderr, file: file, line: line)
        XCTAssertEqual(lines.filter { $0.contains(fragment) }.count, 1, run.stderr, file: file, line: line)
    }

    func url(_ mode: String, _ path: String) -> String {
        "\(server.base)/\(mode)/\(relative[path]!)"
    }

    /// Download into the default location, then the filter finds AudioSep there with no flag: a
    /// text query goes through the downloaded CLAP text branch (the reference embedding of
    /// clap-tiny/queries.json) and the downloaded network (audiosep-tiny's reference output); a
    /// second run fetches nothing and says so in one line.
    func testDownloadThenTheFilterUsesAudioSepWithNoFlag() throws {
        let run = try download("ok")
        XCTAssertEqual(run.status, 0, run.stderr)
        try assertModelComplete(in: modelFolder)
        for path in Self.sources.keys {
            XCTAssertTrue(run.stderr.contains("audiosep-stream: \(path): done"), run.stderr)
        }
        XCTAssertTrue(run.stderr.contains("(verified)"), run.stderr)

        // The text path, no flag: the query's embedding is the reference one ...
        struct Query: Decodable { let text: String; let embedding: [Float] }
        let queries = try JSONDecoder().decode([Query].self, from: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/clap-tiny/queries.json")))
        let query = try XCTUnwrap(queries.first { $0.text == "a dog barking in the rain" })
        let embedded = try Harness.shell("HOME=\(work!)/home $BIN embed \"\(query.text)\" --no-cache")
        XCTAssertEqual(embedded.status, 0, embedded.stderr)
        let printed = try JSONDecoder().decode([Float].self, from: embedded.stdout)
        XCTAssertEqual(printed.count, 512)
        XCTAssertLessThanOrEqual(zip(printed, query.embedding).map { abs($0 - $1) }.max()!, 1e-4)
        // ... and the filter separates with it, as with that embedding given by hand.
        let byText = work + "/by-text.f32"
        let separated = try Harness.shell("HOME=\(work!)/home $BIN \"\(query.text)\" \(Self.rawMono) < \(Self.fixtures)/audiosep-tiny/input.f32 > \(byText)")
        XCTAssertEqual(separated.status, 0, separated.stderr)
        XCTAssertFalse(separated.stderr.contains("no AudioSep model found"), separated.stderr)
        XCTAssertFalse(separated.stderr.contains("built-in engine"), separated.stderr)
        let embedding = work + "/dog.f32"
        XCTAssertEqual(try Harness.shell("HOME=\(work!)/home $BIN embed \"\(query.text)\" --format f32 > \(embedding)").status, 0)
        let byEmbedding = work + "/by-embedding.f32"
        let given = try Harness.shell("HOME=\(work!)/home $BIN --embedding \(embedding) \(Self.rawMono) < \(Self.fixtures)/audiosep-tiny/input.f32 > \(byEmbedding)")
        XCTAssertEqual(given.status, 0, given.stderr)
        let textOutput = try XCTUnwrap(FileManager.default.contents(atPath: byText))
        XCTAssertEqual(textOutput.count, 31676)
        XCTAssertEqual(textOutput, FileManager.default.contents(atPath: byEmbedding), "the text query's separation is its embedding's")
        XCTAssertNotEqual(textOutput, FileManager.default.contents(atPath: Self.fixtures + "/audiosep-tiny/input.f32"), "something was separated")

        // The network is the reference one: audiosep-tiny's embedding gives audiosep-tiny's output.
        let output = work + "/separated.f32"
        let reference = try Harness.shell("HOME=\(work!)/home $BIN --embedding \(Self.fixtures)/audiosep-tiny/embedding.f32 \(Self.rawMono) < \(Self.fixtures)/audiosep-tiny/input.f32 > \(output)")
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let expected = try Harness.readRaw(Self.fixtures + "/audiosep-tiny/output.f32", channels: 1, format: Self.float32)[0]
        let got = try Harness.readRaw(output, channels: 1, format: Self.float32)[0]
        XCTAssertEqual(got.count, expected.count)
        XCTAssertGreaterThan(snr(expected, got), 90, "AudioSep from the downloaded files")

        let requests = server.requests().count
        let again = try download("ok")
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stderr, "audiosep-stream: the model in \(modelFolder) is complete (6 files present, all verified): nothing to download\n")
        XCTAssertEqual(server.requests().count, requests, "nothing fetched")
    }

    /// The built-in table fetches every file at a fixed revision, never the moving `main`: in the
    /// JSON `model manifest` prints, in `--print-table`, and in what the server is asked for.
    func testNoDefaultURLFollowsMain() throws {
        let revisions = ["FacebookAI/roberta-base": "e2da8e2f811d1448a5b465c236feacd80ffbac7b",
                         "spaces/Audio-AGI/AudioSep": "5638854dccfaea5c5fa4f634c00fe74fbb119244"]
        XCTAssertEqual(relative.count, 6)
        for (path, url) in relative {
            XCTAssertFalse(url.contains("/resolve/main/"), url)
            let repository = try XCTUnwrap(revisions.keys.first { url.hasPrefix($0 + "/resolve/") }, url)
            XCTAssertTrue(url.hasPrefix("\(repository)/resolve/\(revisions[repository]!)/"), url)
            XCTAssertTrue(url.hasSuffix("/" + (path as NSString).lastPathComponent), url)
        }
        let table = try Harness.shell("HOME=\(work!)/home $BIN model download --print-table")
        XCTAssertEqual(table.status, 0, table.stderr)
        let text = String(decoding: table.stdout, as: UTF8.self)
        XCTAssertFalse(text.contains("/resolve/main/"), text)
        XCTAssertEqual(text.components(separatedBy: "https://huggingface.co/").count - 1, 6, text)

        XCTAssertEqual(try download("ok").status, 0)
        let paths = server.requests().map(\.path)
        XCTAssertEqual(Set(paths), Set(relative.values.map { "/ok/" + $0 }), "every request is under a revision path")
    }

    /// `--print-table` fetches nothing and prints each file's final path, URL, size and SHA-256;
    /// the recipe in README.md (fetch each URL elsewhere, copy the files to those paths) gives a
    /// folder that `model download` then verifies without the network.
    func testPrintTableIsARecipeForAMachineWithoutInternet() throws {
        let folder = work + "/offline/model"
        let printed = try Harness.shell("HOME=\(work!)/home $BIN model download --print-table --dest \(folder) --base-url \(server.base)/ok --manifest \(manifest!)")
        XCTAssertEqual(printed.status, 0, printed.stderr)
        XCTAssertEqual(printed.stderr, "")
        XCTAssertEqual(server.requests().count, 0, "nothing fetched")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder), "nothing written")
        let lines = String(decoding: printed.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 8, "\(lines)")
        XCTAssertEqual(lines[0], "# audiosep-stream model download: 6 files into \(folder)")
        XCTAssertEqual(lines[1], "# final path\tURL\tbytes\tSHA-256")
        let table = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifest))) as? [String: Any])
        let files = try XCTUnwrap(table["files"] as? [[String: Any]])
        for (line, file) in zip(lines.dropFirst(2), files) {
            let path = try XCTUnwrap(file["path"] as? String)
            XCTAssertEqual(line.split(separator: "\t").map(String.init),
                           [folder + "/" + path, url("ok", path), "\(try XCTUnwrap(file["size"] as? Int))", try XCTUnwrap(file["sha256"] as? String)])
        }
        let tsv = work + "/model-files.tsv"
        try printed.stdout.write(to: URL(fileURLWithPath: tsv))

        // Elsewhere: fetch every URL to its path (README's loop), then copy; here the same machine.
        let fetched = try Harness.shell("grep -v '^#' \(tsv) | while IFS=$'\\t' read -r file url bytes sum; do curl -fsSL --create-dirs -o \"$file\" \"$url\" || exit 1; done")
        XCTAssertEqual(fetched.status, 0, fetched.stderr)
        try assertModelComplete(in: folder)

        // Back on the machine without internet: every file is checked by size and SHA-256, none fetched.
        guard let port = ModelServer.closedPort() else { throw XCTSkip("cannot bind a loopback port") }
        let check = try Harness.shell("HOME=\(work!)/home $BIN model download --dest \(folder) --base-url http://127.0.0.1:\(port) --manifest \(manifest!)")
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stderr.hasPrefix("audiosep-stream: the model in \(folder) is complete (6 files present, all verified): nothing to download\n"), check.stderr)

        // The built-in table: every size known but pytorch_model.bin's, printed as "-".
        let builtIn = try Harness.shell("HOME=\(work!)/home $BIN model download --print-table")
        let rows = String(decoding: builtIn.stdout, as: UTF8.self).split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertEqual(rows.count, 6)
        XCTAssertEqual(rows.filter { $0.split(separator: "\t")[2] == "-" }.map { String($0.split(separator: "\t")[0]) },
                       ["\(modelFolder)/roberta-base/pytorch_model.bin"])
        XCTAssertEqual(rows.filter { $0.split(separator: "\t")[3] == "-" }.count, 0, "every file has a published SHA-256")
    }

    /// A server that sends more than the file's length (no length announced, bytes without end)
    /// is stopped at once: one line, and no more than the file's length reaches the disk.
    func testAServerSendingMoreThanTheSizeIsStoppedAtOnce() throws {
        let run = try download("endless")
        assertOneLineError(run, "sends more than the 475 bytes expected", file: "roberta-base/config.json",
                           url: url("endless", "roberta-base/config.json"))
        XCTAssertLessThan(run.seconds, 30)
        let part = modelFolder + "/roberta-base/config.json.part"
        let kept = (try? FileManager.default.attributesOfItem(atPath: part)[.size] as? Int) ?? 0
        XCTAssertLessThanOrEqual(kept, 475)
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/config.json"))
    }

    /// A server that trickles bytes (two a second here; a byte every 20 s in the wild, which never
    /// trips the 60 s idle timeout) fails the minimum-rate rule, shortened here to 1000 bytes/s
    /// over 3 s: one line naming the rate, within seconds, nothing under the final name.
    func testATricklingServerFailsTheMinimumRate() throws {
        let run = try download("trickle/0.5", environment: "AUDIOSEP_DOWNLOAD_MIN_RATE=1000 AUDIOSEP_DOWNLOAD_RATE_WINDOW=3")
        assertOneLineError(run, "bytes/s over the last 3 s, under the minimum of 1000 bytes/s", file: "roberta-base/config.json",
                           url: url("trickle/0.5", "roberta-base/config.json"))
        let rate = try XCTUnwrap(run.stderr.range(of: #"sends \d+ bytes/s"#, options: .regularExpression).map { run.stderr[$0] })
        XCTAssertTrue(["sends 1 bytes/s", "sends 2 bytes/s", "sends 3 bytes/s"].contains(String(rate)), run.stderr)
        XCTAssertGreaterThanOrEqual(run.seconds, 3)
        XCTAssertLessThan(run.seconds, 15)
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/config.json"))
        // The same settings let a server at full speed through.
        let fast = try download("ok", environment: "AUDIOSEP_DOWNLOAD_MIN_RATE=1000 AUDIOSEP_DOWNLOAD_RATE_WINDOW=3")
        XCTAssertEqual(fast.status, 0, fast.stderr)
        try assertModelComplete(in: modelFolder)
        let bad = try download("ok", environment: "AUDIOSEP_DOWNLOAD_RATE_WINDOW=-1")
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("AUDIOSEP_DOWNLOAD_RATE_WINDOW='-1' is not a positive number"), bad.stderr)
    }

    /// A manifest without sizes (as roberta-base's pytorch_model.bin has none in the built-in
    /// table) is capped (4 GiB by default, 100 kB here): a server sending without end and without
    /// a length is stopped at the cap; one announcing more than the cap is refused before any byte.
    func testAFileWithoutAKnownSizeIsCapped() throws {
        var table = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifest))) as? [String: Any])
        table["files"] = (table["files"] as? [[String: Any]])?.map { $0.filter { $0.key != "size" } }
        try JSONSerialization.data(withJSONObject: table).write(to: URL(fileURLWithPath: manifest))
        let endless = try download("endless", environment: "AUDIOSEP_DOWNLOAD_MAX_BYTES=100000")
        assertOneLineError(endless, "sends more, over the 100000-byte cap for a file whose size is not published",
                           file: "roberta-base/config.json", url: url("endless", "roberta-base/config.json"))
        let part = modelFolder + "/roberta-base/config.json.part"
        let kept = (try? FileManager.default.attributesOfItem(atPath: part)[.size] as? Int) ?? 0
        XCTAssertLessThanOrEqual(kept, 100_000)
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/config.json"))
        let announced = try download("ok", environment: "AUDIOSEP_DOWNLOAD_MAX_BYTES=100")
        assertOneLineError(announced, "announces 475 bytes, over the 100-byte cap", file: "roberta-base/config.json",
                           url: url("ok", "roberta-base/config.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/config.json"))
        // Within the cap, the files come whole.
        XCTAssertEqual(try download("ok").status, 0)
        try assertModelComplete(in: modelFolder)
    }

    /// A 206 answer starting at another byte than asked (even after starting over) is one line
    /// saying so, not an internal name.
    func testAWrongRangeIsNamed() throws {
        let run = try download("wrongrange")
        assertOneLineError(run, "answered a request for the bytes from 0 with the bytes from 1: a broken server or mirror",
                           file: "roberta-base/config.json", url: url("wrongrange", "roberta-base/config.json"))
        XCTAssertFalse(run.stderr.contains("fromZero"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/config.json"))
    }

    /// Without a model, `--engine audiosep`, `embed` and `convert` fail in one line that names the
    /// command that fetches it.
    func testNoModelErrorsNameTheDownloadCommand() throws {
        let input = work + "/tone.wav"
        try Harness.shell("sox -n -r 16000 -c 1 -b 16 \(input) synth 0.5 sine 440")
        for command in ["$BIN --engine audiosep vocals < \(input) > /dev/null", "$BIN embed vocals",
                        "$BIN convert -o \(work!)/out.safetensors"] {
            let run = try Harness.shell("HOME=\(work!)/empty-home \(command)")
            XCTAssertEqual(run.status, 1, command + ": " + run.stderr)
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, command + ": " + run.stderr)
            XCTAssertTrue(run.stderr.contains("no AudioSep model found"), command + ": " + run.stderr)
            XCTAssertTrue(run.stderr.contains("`audiosep-stream model download` fetches it"), command + ": " + run.stderr)
        }
    }

    /// $AUDIOSEP_MODEL_URL is the base URL; $AUDIOSEP_MODEL is the folder, as the filter reads it.
    func testEnvironmentNamesTheMirrorAndTheFolder() throws {
        let folder = work + "/elsewhere"
        let run = try Harness.shell("HOME=\(work!)/home AUDIOSEP_MODEL=\(folder) AUDIOSEP_MODEL_URL=\(server.base)/ok $BIN model download --manifest \(manifest!)")
        XCTAssertEqual(run.status, 0, run.stderr)
        try assertModelComplete(in: folder)
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelFolder))
        let separated = try Harness.shell("HOME=\(work!)/home AUDIOSEP_MODEL=\(folder) $BIN --embedding \(Self.fixtures)/audiosep-tiny/embedding.f32 \(Self.rawMono) < \(Self.fixtures)/audiosep-tiny/input.f32 | wc -c")
        XCTAssertEqual(separated.status, 0, separated.stderr)
        XCTAssertEqual(String(decoding: separated.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "31676")

        let file = try Harness.shell("HOME=\(work!)/home AUDIOSEP_MODEL=\(work!)/model.safetensors $BIN model download --base-url \(server.base)/ok --manifest \(manifest!)")
        XCTAssertEqual(file.status, 1)
        XCTAssertEqual(file.stderr.split(separator: "\n").count, 1, file.stderr)
        XCTAssertTrue(file.stderr.contains("AUDIOSEP_MODEL names a file"), file.stderr)
    }

    /// A connection dropped half-way: an error naming file and URL, the `.part` kept, no final
    /// file; the next run resumes it with a Range request, and the result is byte-identical.
    func testAnInterruptedDownloadResumesWithARange() throws {
        let first = try download("drop")
        assertOneLineError(first, "cannot download", file: "roberta-base/pytorch_model.bin", url: url("drop", "roberta-base/pytorch_model.bin"))
        let part = modelFolder + "/roberta-base/pytorch_model.bin.part"
        let kept = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: part)[.size] as? Int)
        XCTAssertGreaterThan(kept, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/pytorch_model.bin"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/config.json"), "complete files stay")

        // The server drops every request from byte 0 of a file over 100 kB: each run resumes one
        // file and breaks on the next, until all are there.
        var runs = 1
        while true {
            let run = try download("drop")
            runs += 1
            if run.status == 0 { break }
            XCTAssertEqual(run.status, 1, run.stderr)
            XCTAssertTrue(run.stderr.contains("resuming at"), run.stderr)
            XCTAssertLessThan(runs, 6, run.stderr)
            if runs >= 6 { return }
        }
        XCTAssertEqual(runs, 4, "three files over 100 kB: three interrupted runs, then the last")
        try assertModelComplete(in: modelFolder)
        let ranges = server.requests().filter { $0.path.hasSuffix("/pytorch_model.bin") }.compactMap(\.range)
        XCTAssertEqual(ranges.count, 2, "\(ranges)")
        XCTAssertEqual(ranges.first?.hasPrefix("bytes=0-"), true, "\(ranges)")
        XCTAssertEqual(ranges.last, "bytes=\(kept)-419652", "the second request asks for the rest")
        XCTAssertEqual(server.requests().filter { $0.range?.hasPrefix("bytes=0-") == false }.count, 3, "three resumed files")
    }

    /// Hugging Face answers resolve/ URLs with a redirect: followed, with the Range kept.
    func testRedirectsAreFollowedWithTheRange() throws {
        XCTAssertEqual(try download("drop").status, 1)
        let kept = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: modelFolder + "/roberta-base/pytorch_model.bin.part")[.size] as? Int)
        let run = try download("redirect/ok")
        XCTAssertEqual(run.status, 0, run.stderr)
        try assertModelComplete(in: modelFolder)
        let followed = server.requests().filter { $0.path == "/ok/" + relative["roberta-base/pytorch_model.bin"]! }
        XCTAssertEqual(followed.map(\.range), ["bytes=\(kept)-419652"])
    }

    /// A server that ignores Range (200 and the whole file) makes the `.part` start over from 0.
    func testAServerThatIgnoresRangeStartsTheFileOver() throws {
        XCTAssertEqual(try download("drop").status, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/pytorch_model.bin.part"))
        let run = try download("norange")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("roberta-base/pytorch_model.bin: the server ignored the range request; starting over"), run.stderr)
        try assertModelComplete(in: modelFolder)
    }

    /// Wrong bytes: a checksum error, and neither the final file nor a `.part` to resume.
    func testWrongBytesAreAChecksumErrorAndLeaveNoFile() throws {
        let run = try download("corrupt")
        assertOneLineError(run, "have SHA-256", file: "roberta-base/config.json", url: url("corrupt", "roberta-base/config.json"))
        XCTAssertTrue(run.stderr.contains("expected \(try Self.sha256sum(Self.fixtures + "/clap-tiny/roberta-base/config.json"))"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/config.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/config.json.part"))
    }

    /// A manifest size the server does not send: refused before any byte is kept.
    func testASizeMismatchIsRefused() throws {
        var table = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifest))) as? [String: Any])
        var files = try XCTUnwrap(table["files"] as? [[String: Any]])
        files[0]["size"] = 476
        table["files"] = files
        try JSONSerialization.data(withJSONObject: table).write(to: URL(fileURLWithPath: manifest))
        let run = try download("ok")
        assertOneLineError(run, "sends 475 bytes, expected 476", file: "roberta-base/config.json", url: url("ok", "roberta-base/config.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: modelFolder + "/roberta-base/config.json"))
    }

    func testHTTPErrorsAreOneLineNamingFileAndURL() throws {
        for (status, text) in [(404, "answered HTTP 404 (Not Found)"), (500, "answered HTTP 500 (Internal Server Error)")] {
            let run = try download("status/\(status)")
            assertOneLineError(run, text, file: "roberta-base/config.json", url: url("status/\(status)", "roberta-base/config.json"))
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 2, "the 'downloading' line and the error: \(run.stderr)")
        }
    }

    func testConnectionRefused() throws {
        guard let port = ModelServer.closedPort() else { throw XCTSkip("cannot bind a loopback port") }
        let run = try Harness.shell("HOME=\(work!)/home $BIN model download --base-url http://127.0.0.1:\(port) --manifest \(manifest!)")
        assertOneLineError(run, "connection refused", file: "roberta-base/config.json",
                           url: "http://127.0.0.1:\(port)/" + relative["roberta-base/config.json"]!)
        XCTAssertLessThan(run.seconds, 30)
    }

    /// A disk that fills up: the system's reason, naming the file and URL; the files already
    /// complete stay, the `.part` keeps what fit.
    func testAFullDiskIsOneLineAndKeepsWhatIsComplete() throws {
        let mount = work + "/small-disk"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        guard try Harness.shell("mount -t tmpfs -o size=1m tmpfs \(mount)").status == 0 else {
            throw XCTSkip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
        }
        let run = try download("ok", "--dest \(mount)/model")
        assertOneLineError(run, "No space left on device", file: "\(mount)/model/music_speech_audioset_epoch_15_esc_89.98.pt.part",
                           url: url("ok", "music_speech_audioset_epoch_15_esc_89.98.pt"))
        for path in ["config.json", "vocab.json", "merges.txt", "pytorch_model.bin"] {
            XCTAssertEqual(FileManager.default.contents(atPath: "\(mount)/model/roberta-base/\(path)"),
                           FileManager.default.contents(atPath: "\(Self.fixtures)/clap-tiny/roberta-base/\(path)"), path)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(mount)/model/music_speech_audioset_epoch_15_esc_89.98.pt"))
    }

    /// --convert writes audiosep.safetensors, which the filter then prefers; a second run is one line.
    func testConvertWritesTheFileTheLoaderPrefers() throws {
        let run = try download("ok", "--convert")
        XCTAssertEqual(run.status, 0, run.stderr)
        let converted = modelFolder + "/audiosep.safetensors"
        XCTAssertTrue(run.stderr.contains("wrote \(converted)"), run.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: converted))
        // Remove the checkpoint the network comes from: the filter must be reading the converted file.
        try FileManager.default.removeItem(atPath: modelFolder + "/audiosep_base_4M_steps.ckpt")
        let output = work + "/from-converted.f32"
        let separated = try Harness.shell("HOME=\(work!)/home $BIN --embedding \(Self.fixtures)/audiosep-tiny/embedding.f32 \(Self.rawMono) < \(Self.fixtures)/audiosep-tiny/input.f32 > \(output)")
        XCTAssertEqual(separated.status, 0, separated.stderr)
        let expected = try Harness.readRaw(Self.fixtures + "/audiosep-tiny/output.f32", channels: 1, format: Self.float32)[0]
        XCTAssertGreaterThan(snr(expected, try Harness.readRaw(output, channels: 1, format: Self.float32)[0]), 90)
        XCTAssertEqual(try download("ok").status, 0, "the checkpoint comes back")
        let again = try download("ok", "--convert")
        XCTAssertEqual(again.stderr, "audiosep-stream: the model in \(modelFolder) is complete (6 files present, all verified, audiosep.safetensors too): nothing to download\n")
    }

    /// Without a model the note on stderr names the command that gets it.
    func testTheNoModelNoteNamesTheDownloadCommand() throws {
        let input = work + "/tone.wav"
        try Harness.shell("sox -n -r 16000 -c 1 -b 16 \(input) synth 0.5 sine 440")
        let run = try Harness.shell("HOME=\(work!)/empty-home $BIN vocals < \(input) > /dev/null")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("no AudioSep model found"), run.stderr)
        XCTAssertTrue(run.stderr.contains("audiosep-stream model download"), run.stderr)
        XCTAssertEqual(run.stderr.split(separator: "\n").filter { $0.contains("model download") }.count, 1)
    }

    static func sha256sum(_ file: String) throws -> String {
        let run = try Harness.shell("sha256sum \(file)")
        return String(String(decoding: run.stdout, as: UTF8.self).prefix(64))
    }
}
