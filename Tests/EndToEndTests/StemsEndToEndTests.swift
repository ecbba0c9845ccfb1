import Foundation
import TestSupport
import XCTest

/// Several stems from one read of the input, through the real binary: each stem is byte for byte
/// the one-query run of its query, the stems and the rest add up to the input, every container
/// can be written, mistakes are one line and make nothing, and a signal leaves every stem valid.
final class StemsEndToEndTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
    /// The AudioSep checkpoint with the text overrides, and the CLAP text branch: text queries on the tiny model.
    static let textModel = "--checkpoint \(fixtures)/worker-tiny/audiosep.ckpt --clap-checkpoint \(fixtures)/clap-tiny/clap.pt "
        + "--roberta-dir \(fixtures)/clap-tiny/roberta-base"
    static let queries = ["vocals", "drums", "bass"]

    /// A fresh folder for one test, so what is left in it can be listed.
    func folder(_ name: String) throws -> String {
        let path = Harness.path("stems-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func names(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// The file-name form `{query}` takes, for the queries used here (spaces become `-`).
    func safe(_ query: String) -> String { query.replacingOccurrences(of: " ", with: "-") }

    /// `in.wav` in `directory`: 16-bit stereo, two tones a channel, a plucked bass line and pink noise.
    func makeInput(in directory: String, rate: Int = 44_100, seconds: Double = 7, channels: Int = 2) throws {
        let made = try Harness.shell("""
            cd \(directory) && set -e
            sox -R -n -r \(rate) -c \(channels) -b 16 tones.wav synth \(seconds) sine 220 sine 1250 vol 0.4
            sox -R -n -r \(rate) -c \(channels) -b 16 pluck.wav synth \(seconds) pluck C2 vol 0.3
            sox -R -n -r \(rate) -c \(channels) -b 16 noise.wav synth \(seconds) pinknoise vol 0.15
            sox -R -m tones.wav pluck.wav noise.wav in.wav
            rm tones.wav pluck.wav noise.wav
            """)
        XCTAssertEqual(made.status, 0, made.stderr)
    }

    /// Runs `flags QUERY... -o 'stems/{query}.wav'` and each query alone with the same flags, and
    /// asserts each stem is byte for byte its single run and exactly as long as the input.
    func assertStemsEqualSingleRuns(_ directory: String, flags: String, queries: [String] = queries, frames: Int,
                                    label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let quoted = queries.map { "'\($0)'" }.joined(separator: " ")
        let together = try Harness.shell("cd \(directory) && mkdir -p stems && $BIN \(flags) \(quoted) -i in.wav -o 'stems/{query}.wav'")
        XCTAssertEqual(together.status, 0, "\(label): \(together.stderr)", file: file, line: line)
        XCTAssertEqual(try names(directory + "/stems"), queries.map { "\(safe($0)).wav" }.sorted(), label, file: file, line: line)
        for query in queries {
            let single = "single-\(safe(query)).wav"
            let alone = try Harness.shell("cd \(directory) && $BIN \(flags) '\(query)' -i in.wav -o \(single)")
            XCTAssertEqual(alone.status, 0, "\(label) \(query): \(alone.stderr)", file: file, line: line)
            let stem = bytes(directory + "/stems/\(safe(query)).wav")
            XCTAssertNotNil(stem, "\(label): no stem for \(query)", file: file, line: line)
            XCTAssertEqual(stem, bytes(directory + "/" + single), "\(label): the \(query) stem differs from its one-query run",
                           file: file, line: line)
            let audio = try Harness.readAudio(directory + "/stems/\(safe(query)).wav")
            XCTAssertEqual(audio.channels.count, 2, label, file: file, line: line)
            for channel in audio.channels { XCTAssertEqual(channel.count, frames, "\(label) \(query)", file: file, line: line) }
            try assertCompleteWAV(directory + "/stems/\(safe(query)).wav", file: file, line: line)
        }
        // The stems are not all one signal (the engine separated something).
        let first = bytes(directory + "/stems/\(safe(queries[0])).wav"), second = bytes(directory + "/stems/\(safe(queries[1])).wav")
        XCTAssertNotEqual(first, second, "\(label): two stems are the same file", file: file, line: line)
    }

    // MARK: 1. stems equal one-query runs

    func testDSPStemsEqualOneQueryRunsAndKeepTheInputsLength() throws {
        let directory = try folder("dsp")
        try makeInput(in: directory)
        try assertStemsEqualSingleRuns(directory, flags: "--engine dsp --chunk 2 --overlap 0.5", frames: 7 * 44_100, label: "dsp")
        let removed = try folder("dsp-remove")
        try makeInput(in: removed)
        try assertStemsEqualSingleRuns(removed, flags: "--engine dsp --chunk 2 --overlap 0.5 --remove", frames: 7 * 44_100,
                                       label: "dsp --remove")
        XCTAssertNotEqual(bytes(directory + "/stems/vocals.wav"), bytes(removed + "/stems/vocals.wav"), "--remove changed nothing")
    }

    /// Text queries on the tiny AudioSep model (the worker-tiny checkpoint holds the text
    /// overrides; clap-tiny gives the CLAP weights and the tokenizer). `--no-cache`, so every
    /// query is encoded by this run and not read from an earlier run's cache.
    func testAudioSepTextStemsEqualOneQueryRuns() throws {
        let directory = try folder("audiosep")
        try makeInput(in: directory, seconds: 2.5)
        try assertStemsEqualSingleRuns(directory, flags: "--no-cache \(Self.textModel) --chunk 1 --overlap 0.25",
                                       queries: ["vocals", "a dog barking", "bass"], frames: Int(2.5 * 44_100), label: "audiosep text")
        XCTAssertEqual(try names(directory + "/stems"), ["a-dog-barking.wav", "bass.wav", "vocals.wav"])
        let removed = try folder("audiosep-remove")
        try makeInput(in: removed, seconds: 2.5)
        try assertStemsEqualSingleRuns(removed, flags: "--no-cache \(Self.textModel) --chunk 1 --overlap 0.25 --remove",
                                       frames: Int(2.5 * 44_100), label: "audiosep text --remove")
    }

    // MARK: 2. the stems and the rest add up to the input

    func testStemsAndTheRestAddUpToTheInput() throws {
        for rate in [44_100, 48_000] {
            let directory = try folder("rest-\(rate)")
            try makeInput(in: directory, rate: rate, seconds: 6)
            let run = try Harness.shell("""
                cd \(directory) && mkdir -p out && $BIN --engine dsp --chunk 2 --overlap 0.5 vocals drums bass -i in.wav \
                -o 'out/{query}.wav' --rest out/rest.wav --out-encoding float
                """)
            XCTAssertEqual(run.status, 0, "\(rate): \(run.stderr)")
            XCTAssertEqual(try names(directory + "/out"), ["bass.wav", "drums.wav", "rest.wav", "vocals.wav"])
            let input = try Harness.readAudio(directory + "/in.wav")
            let parts = try ["vocals", "drums", "bass", "rest"].map { try Harness.readAudio(directory + "/out/\($0).wav") }
            for part in parts {
                XCTAssertEqual(part.rate, rate)
                XCTAssertEqual(part.format.encoding, .floatingPoint)
                XCTAssertEqual(part.channels.map(\.count), input.channels.map(\.count))
            }
            var worst: Float = 0
            for channel in input.channels.indices {
                for frame in input.channels[channel].indices {
                    let sum = parts.reduce(Float(0)) { $0 + $1.channels[channel][frame] }
                    worst = max(worst, abs(sum - input.channels[channel][frame]))
                }
            }
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(rate) Hz: stems + rest differ from the input by \(worst)")
            let rest = parts[3].channels[0].map(abs).max() ?? 0
            XCTAssertGreaterThan(rest, 1e-3, "\(rate) Hz: the rest holds something (not a trivial zero)")
        }
    }

    /// `--downmix`: the mono mix is separated once and written to both channels; the rest is
    /// what is left of each channel, so the stems and the rest still add up to the input.
    func testDownmixedStemsAndTheRestAddUpToTheInput() throws {
        let directory = try folder("rest-downmix")
        try makeInput(in: directory, rate: 44_100, seconds: 4)
        let run = try Harness.shell("""
            cd \(directory) && $BIN -q --engine dsp --downmix --chunk 2 --overlap 0.5 vocals bass -i in.wav \
            -o '{query}.wav' --rest rest.wav --out-encoding float
            """)
        XCTAssertEqual(run.status, 0, run.stderr)
        let input = try Harness.readAudio(directory + "/in.wav")
        let parts = try ["vocals", "bass", "rest"].map { try Harness.readAudio(directory + "/\($0).wav") }
        XCTAssertEqual(parts[0].channels[0], parts[0].channels[1], "a downmixed stem is one signal on both channels")
        XCTAssertNotEqual(parts[2].channels[0], parts[2].channels[1], "the rest keeps each channel's own difference")
        var worst: Float = 0
        for channel in 0..<2 {
            XCTAssertEqual(parts.map { $0.channels[channel].count }, [4 * 44_100, 4 * 44_100, 4 * 44_100])
            for frame in input.channels[channel].indices {
                let sum = parts.reduce(Float(0)) { $0 + $1.channels[channel][frame] }
                worst = max(worst, abs(sum - input.channels[channel][frame]))
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-5)
    }

    /// `--stem QUERY=FILE` names each stem's file and, by its extension, its container: each is
    /// its one-query run in that container (FLAC byte for byte; Ogg Vorbis to its length).
    func testStemFlagsNameEachFileAndItsContainer() throws {
        guard try Harness.shell("command -v ffmpeg").status == 0 else { throw XCTSkip("ffmpeg is not installed") }
        let directory = try folder("stem-flags")
        try makeInput(in: directory, rate: 44_100, seconds: 4)
        let flags = "-q --engine dsp --chunk 2 --overlap 0.5 -i in.wav"
        // A query may hold '=': the file is after the last one, so the built-in engine is asked
        // for 'a=b' (and refuses it, in one line, before any file is made).
        let run = try Harness.shell("cd \(directory) && $BIN \(flags) --stem vocals=v.flac --stem drums=d.ogg --stem a=b=eq.wav --rest r.w64")
        assertOneLineError(run, "the built-in engine cannot separate 'a=b'", "a query holding '='")
        XCTAssertEqual(try names(directory), ["in.wav"], "a refused query made files")
        let good = try Harness.shell("cd \(directory) && $BIN \(flags) --stem vocals=v.flac --stem drums=d.ogg --rest r.w64")
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertEqual(try names(directory), ["d.ogg", "in.wav", "r.w64", "v.flac"])
        let single = try Harness.shell("cd \(directory) && $BIN \(flags) vocals -o single.flac")
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertNotNil(bytes(directory + "/v.flac"))
        XCTAssertTrue(bytes(directory + "/v.flac") == bytes(directory + "/single.flac"), "the vocals stem differs from its one-query run")
        XCTAssertEqual(bytes(directory + "/d.ogg")?.prefix(4), Data("OggS".utf8))
        XCTAssertEqual(try decodedBytes(file: directory + "/d.ogg"), 4 * 44_100 * 4)
        XCTAssertEqual(try decodedBytes(file: directory + "/r.w64"), 4 * 44_100 * 4)
    }

    // MARK: 3. containers

    /// Decodes what `command` writes (or, with `file`, that file) with ffmpeg to 16-bit PCM, and
    /// counts the bytes (frames × channels × 2).
    func decodedBytes(_ command: String = "", file: String? = nil) throws -> Int {
        let decode = file.map { "ffmpeg -v error -i \($0) -f s16le - | wc -c" } ?? "\(command) | ffmpeg -v error -i - -f s16le - | wc -c"
        let run = try Harness.shell(decode)
        XCTAssertEqual(run.status, 0, "\(command): \(run.stderr)")
        return Int(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    func testEveryContainerDecodesToTheInputsLength() throws {
        guard try Harness.shell("command -v ffmpeg").status == 0 else { throw XCTSkip("ffmpeg is not installed") }
        let directory = try folder("containers")
        try makeInput(in: directory, rate: 48_000, seconds: 3)
        let frames = 3 * 48_000
        let magic: [String: (offset: Int, text: String)] = [
            "flac": (0, "fLaC"), "aiff": (8, "AIFF"), "w64": (0, "riff"), "caf": (0, "caff"), "ogg": (0, "OggS"), "opus": (0, "OggS"),
        ]
        for ext in ["flac", "aiff", "w64", "caf", "ogg", "opus"] {
            let run = try Harness.shell("cd \(directory) && $BIN --engine dsp --chunk 1 --overlap 0.25 vocals -i in.wav -o out.\(ext)")
            XCTAssertEqual(run.status, 0, "\(ext): \(run.stderr)")
            let data = try XCTUnwrap(bytes(directory + "/out.\(ext)"), ext)
            let (offset, text) = magic[ext]!
            XCTAssertEqual(String(decoding: data.dropFirst(offset).prefix(text.utf8.count), as: UTF8.self), text, "\(ext) container")
            if ext == "opus" { XCTAssertNotNil(data.range(of: Data("OpusHead".utf8)), "an Ogg Opus stream") }
            if ext == "ogg" { XCTAssertNotNil(data.range(of: Data("vorbis".utf8)), "an Ogg Vorbis stream") }
            XCTAssertEqual(try decodedBytes(file: "\(directory)/out.\(ext)"), frames * 2 * 2, "\(ext) decodes to the input's length")
        }
        // sox reads the lossless ones too, at their length.
        for ext in ["flac", "aiff", "w64", "caf"] {
            let soxi = try Harness.shell("soxi -s \(directory)/out.\(ext)")
            XCTAssertEqual(String(decoding: soxi.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "\(frames)",
                           "\(ext): \(soxi.stderr)")
        }
        // --out-type names the container of a name that promises none; one that promises another is refused.
        let typed = try Harness.shell("cd \(directory) && $BIN --engine identity --out-type flac -i in.wav -o typed.audio")
        XCTAssertEqual(typed.status, 0, typed.stderr)
        XCTAssertEqual(bytes(directory + "/typed.audio")?.prefix(4), Data("fLaC".utf8))
        let promised = try Harness.shell("cd \(directory) && $BIN --engine identity --out-type flac -i in.wav -o typed.wav")
        assertOneLineError(promised, "a .wav name promises WAV", "--out-type flac -o typed.wav")
        XCTAssertNil(bytes(directory + "/typed.wav"))
    }

    func testFLACOnAPipeIsExactAndAIFFOnAPipeIsRefused() throws {
        guard try Harness.shell("command -v ffmpeg").status == 0 else { throw XCTSkip("ffmpeg is not installed") }
        let directory = try folder("pipe")
        try makeInput(in: directory, rate: 44_100, seconds: 5)
        let frames = 5 * 44_100
        XCTAssertEqual(try decodedBytes("$BIN --engine identity --out-type flac < \(directory)/in.wav"), frames * 2 * 2)
        // Identity of a 16-bit input as FLAC on a pipe decodes to the input's samples exactly.
        let piped = try Harness.shell("""
            cd \(directory) && $BIN --engine identity --out-type flac < in.wav | ffmpeg -v error -i - -f s16le - > piped.s16 \
            && ffmpeg -v error -i in.wav -f s16le - > input.s16
            """)
        XCTAssertEqual(piped.status, 0, piped.stderr)
        let decoded = bytes(directory + "/piped.s16"), input = bytes(directory + "/input.s16")
        XCTAssertEqual(decoded?.count, frames * 4)
        XCTAssertTrue(decoded == input, "FLAC of identity differs from the 16-bit input")
        // And to a file, read back by libsndfile.
        let filed = try Harness.shell("cd \(directory) && $BIN --engine identity -i in.wav -o same.flac")
        XCTAssertEqual(filed.status, 0, filed.stderr)
        XCTAssertEqual(try Harness.readAudio(directory + "/same.flac").channels, try Harness.readAudio(directory + "/in.wav").channels)
        // AIFF (and W64, CAF) need a seekable file: refused in one line, nothing written.
        for type in ["aiff", "w64", "caf"] {
            let refused = try Harness.shell("$BIN --engine identity --out-type \(type) < \(directory)/in.wav | wc -c")
            assertOneLineError(refused, "cannot be written to a pipe", "--out-type \(type) to a pipe")
            XCTAssertEqual(String(decoding: refused.stdout, as: UTF8.self).trimmingCharacters(in: .whitespaces), "0\n", type)
        }
    }

    // MARK: 4. refusals

    func testMistakesAreOneLineAndCreateNothing() throws {
        let directory = try folder("refusals")
        try makeInput(in: directory, seconds: 1)
        let tiny = "\(Self.fixtures)/audiosep-tiny"
        let cases: [(String, String, String)] = [
            ("$BIN --engine dsp vocals drums -i in.wav -o out.wav", "2 queries and one output", "two queries, one file"),
            ("$BIN --engine dsp vocals drums -i in.wav", "2 queries and one output", "two queries, stdout"),
            ("$BIN --engine identity dog 'dog!' -i in.wav -o '{query}.wav'", "queries 'dog' and 'dog!' both become 'dog.wav'",
             "colliding safe names"),
            ("$BIN --engine dsp --stem vocals -i in.wav", "--stem takes QUERY=FILE", "--stem without ="),
            ("$BIN --engine dsp --stem =v.wav -i in.wav", "--stem takes QUERY=FILE", "--stem with no query"),
            ("$BIN --engine dsp --stem vocals= -i in.wav", "--stem takes QUERY=FILE", "--stem with no file"),
            ("$BIN --engine dsp --stem vocals=- --rest - -i in.wav", "2 outputs would go to standard output",
             "two outputs to stdout"),
            ("$BIN --engine audiosep --model \(tiny)/tiny.ckpt --embedding \(tiny)/embedding.f32 vocals drums -i in.wav -o '{query}.wav'",
             "--embedding stands for one query", "--embedding with two queries"),
            ("$BIN --engine dsp vocals drums -i in.wav -o 'x/{query}.wav' --rest x/vocals.wav", "two outputs name", "rest onto a stem"),
        ]
        for (command, message, label) in cases {
            let run = try Harness.shell("cd \(directory) && \(command)")
            assertOneLineError(run, message, label)
            XCTAssertEqual(run.stdout.count, 0, "\(label): audio on stdout")
            XCTAssertEqual(try names(directory), ["in.wav"], "\(label) created something")
        }
    }

    // MARK: 6. a signal mid-run

    static let oldBytes = Data("RIFF-the user's own file, not audio from this run\n".utf8)

    /// Feeds 3 s of audio on a FIFO and holds it open, runs three stems into `out/`, sends
    /// SIGINT once all of it has been read, and returns the exit status and stderr.
    func interruptStems(in directory: String) throws -> (status: Int, stderr: String) {
        let run = try Harness.shell("""
            cd \(directory) && mkfifo live
            (sox -R -n -r 44100 -c 2 -b 16 -t wav - synth 3 sine 440 pluck C2 vol 0.5 2>/dev/null; exec sleep 30) > live & feeder=$!
            $BIN -q --engine dsp --chunk 1 --overlap 0.1 vocals drums bass -o 'out/{query}.wav' < live 2> err.txt & pid=$!
            sleep 2.5; kill -INT $pid
            wait $pid; status=$?; kill $feeder 2>/dev/null; rm -f live
            echo $status
            """)
        let status = Int(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        return (status, (try? String(contentsOfFile: directory + "/err.txt", encoding: .utf8)) ?? "")
    }

    /// The same 3 s separated whole from a file, for what an interrupted run should hold.
    func uninterruptedStems(in directory: String) throws -> [String: [[Float]]] {
        let run = try Harness.shell("""
            cd \(directory) && mkdir -p whole && sox -R -n -r 44100 -c 2 -b 16 whole.wav synth 3 sine 440 pluck C2 vol 0.5 \
            && $BIN --engine dsp --chunk 1 --overlap 0.1 vocals drums bass -i whole.wav -o 'whole/{query}.wav'
            """)
        XCTAssertEqual(run.status, 0, run.stderr)
        var stems: [String: [[Float]]] = [:]
        for query in Self.queries { stems[query] = try Harness.readAudio(directory + "/whole/\(query).wav").channels }
        return stems
    }

    func testSIGINTLeavesEveryNewStemValidUnderItsName() throws {
        let directory = try folder("sigint-new")
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
        let result = try interruptStems(in: directory)
        XCTAssertEqual(result.status, 130, result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("audiosep-stream: stopped by SIGINT: 3.00 s written"), result.stderr)
        XCTAssertEqual(try names(directory + "/out"), ["bass.wav", "drums.wav", "vocals.wav"], "no temporary or partial file left")
        let whole = try uninterruptedStems(in: directory)
        for query in Self.queries {
            let path = directory + "/out/\(query).wav"
            try assertCompleteWAV(path)
            let audio = try Harness.readAudio(path)
            XCTAssertEqual(audio.channels.map(\.count), [3 * 44_100, 3 * 44_100], query)
            XCTAssertEqual(audio.channels, whole[query], "\(query): what arrived was separated as a whole run separates it")
        }
    }

    /// One stem's name held a file before the run: it is unchanged and that stem's partial is
    /// kept beside it; the other stems, new, take their names.
    func testSIGINTKeepsAnExistingStemFileAndPutsThePartialBeside() throws {
        let directory = try folder("sigint-existing")
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
        try Self.oldBytes.write(to: URL(fileURLWithPath: directory + "/out/drums.wav"))
        let result = try interruptStems(in: directory)
        XCTAssertEqual(result.status, 130, result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("stopped by SIGINT"), result.stderr)
        XCTAssertTrue(result.stderr.contains("drums.partial.wav"), result.stderr)
        XCTAssertEqual(bytes(directory + "/out/drums.wav"), Self.oldBytes, "SIGINT replaced the existing stem file")
        XCTAssertEqual(try names(directory + "/out"), ["bass.wav", "drums.partial.wav", "drums.wav", "vocals.wav"])
        let whole = try uninterruptedStems(in: directory)
        for (query, name) in [("vocals", "vocals.wav"), ("drums", "drums.partial.wav"), ("bass", "bass.wav")] {
            let path = directory + "/out/\(name)"
            try assertCompleteWAV(path)
            let audio = try Harness.readAudio(path)
            XCTAssertEqual(audio.channels.map(\.count), [3 * 44_100, 3 * 44_100], name)
            XCTAssertEqual(audio.channels, whole[query], name)
        }
    }

    /// Every stem's name held a file: all unchanged, all partials beside.
    func testSIGINTKeepsEveryExistingStemFile() throws {
        let directory = try folder("sigint-all")
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
        for query in Self.queries { try Self.oldBytes.write(to: URL(fileURLWithPath: directory + "/out/\(query).wav")) }
        let result = try interruptStems(in: directory)
        XCTAssertEqual(result.status, 130, result.stderr)
        XCTAssertEqual(try names(directory + "/out"),
                       ["bass.partial.wav", "bass.wav", "drums.partial.wav", "drums.wav", "vocals.partial.wav", "vocals.wav"])
        // The one line names where every stem's partial is.
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        for query in Self.queries { XCTAssertTrue(result.stderr.contains("\(query).partial.wav"), result.stderr) }
        for query in Self.queries {
            XCTAssertEqual(bytes(directory + "/out/\(query).wav"), Self.oldBytes, query)
            try assertCompleteWAV(directory + "/out/\(query).partial.wav")
            XCTAssertEqual(try Harness.readAudio(directory + "/out/\(query).partial.wav").channels.map(\.count), [3 * 44_100, 3 * 44_100])
        }
    }
}
