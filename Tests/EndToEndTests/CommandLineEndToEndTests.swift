import Foundation
import TestSupport
import XCTest

/// The command line as new users meet it: their files are never destroyed, mistakes are one line
/// found before any input is read or output made, and the conventions of sox and gzip hold.
final class CommandLineEndToEndTests: XCTestCase {
    /// A 3 s 16 kHz mono tone, made once per test.
    func tone(_ name: String, seconds: Int = 3, rate: Int = 16_000) throws -> String {
        try Harness.shell("sox -n -r \(rate) -c 1 -b 16 \(name) synth \(seconds) sine 440 vol 0.5")
        return Harness.path(name)
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// The data chunk's length a WAV header states, and the file's real data length.
    func wavLengths(_ data: Data) -> (stated: Int, actual: Int)? {
        guard data.count >= 44, data.prefix(4) == Data("RIFF".utf8) else { return nil }
        var offset = 12
        while offset + 8 <= data.count {
            let id = String(decoding: data[offset..<offset + 4], as: UTF8.self)
            let size = data[offset + 4..<offset + 8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            if id == "data" { return (size, data.count - offset - 8) }
            offset += 8 + size + size % 2
        }
        return nil
    }

    // MARK: Nothing a user owns is lost

    func testTheInputIsNeverTheOutputByPathLinkOrRedirection() throws {
        let input = try tone("same.wav")
        let original = bytes(input)
        try Harness.shell("ln -sf same.wav same-link.wav; ln -f same.wav same-hard.wav")
        for command in ["$BIN vocals --engine dsp -i same.wav -o same.wav",
                        "$BIN vocals --engine dsp -i same.wav -o same-link.wav",
                        "$BIN vocals --engine dsp -i same-hard.wav -o same.wav",
                        "$BIN vocals --engine dsp -i same.wav -o ./same.wav",
                        "$BIN vocals --engine dsp -i same.wav >> same.wav",
                        "$BIN vocals --engine dsp < same.wav >> same-hard.wav",
                        "$BIN vocals --engine dsp -i - -o same.wav < same-link.wav"] {
            let run = try Harness.shell(command)
            assertOneLineError(run, "input", command)
            XCTAssertTrue(run.stderr.contains("destroy the input"), "\(command): \(run.stderr)")
            XCTAssertEqual(bytes(input), original, "\(command) changed the input")
        }
        // The shell empties `> same.wav` before the tool starts; the tool still refuses to write it.
        let truncated = try Harness.shell("$BIN vocals --engine dsp < same-hard.wav > same-hard.wav")
        assertOneLineError(truncated, "standard output is the input file", "> same")
    }

    func testAFailedRunLeavesAnExistingOutputAsItWas() throws {
        let input = try tone("keep-in.wav")
        try Harness.shell("printf 'precious' > keep-out.wav")
        // A refusal after the header was read (a format WAV cannot hold): the old file stays.
        let run = try Harness.shell("$BIN --engine identity -i \(input) -o keep-out.wav --out-bits 8 --out-encoding floating-point")
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertEqual(bytes(Harness.path("keep-out.wav")), Data("precious".utf8))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: Harness.directory).filter { $0.contains(".audiosep-") }
        XCTAssertEqual(leftovers, [], "temporary files left behind")
        // And a run that succeeds replaces it whole, through a symbolic link to it.
        try Harness.shell("ln -sf keep-out.wav keep-link.wav")
        let replaced = try Harness.shell("$BIN --engine identity -i \(input) -o keep-link.wav")
        XCTAssertEqual(replaced.status, 0, replaced.stderr)
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: Harness.path("keep-link.wav"))
        XCTAssertEqual(link, "keep-out.wav", "the link was replaced instead of written through")
        XCTAssertEqual(try Harness.readAudio(Harness.path("keep-out.wav")).channels.first?.count, 48_000)
    }

    // MARK: Mistakes found before input is read or output made

    func testSizeOptionsAreBoundedBeforeAnythingIsAllocated() throws {
        let input = try tone("bounds.wav")
        for (flags, message) in [("--chunk 1e9", "--chunk"), ("--chunk 0", "above 0 s"), ("--chunk nan", "--chunk"),
                                 ("--chunk inf", "--chunk"), ("--chunk -5", "above 0 s"), ("--overlap -1", "--overlap"),
                                 ("--buffer 0", "--buffer"), ("--buffer 99999999999", "1048576"),
                                 ("--threads 0", "--threads"), ("--threads 100000", "1024"),
                                 ("--out-rate 99999999999", "4000000"), ("--out-rate 0", "--out-rate"),
                                 ("--out-rate 44.1005k", "whole number")] {
            try? FileManager.default.removeItem(atPath: Harness.path("bounds-out.wav"))
            let run = try Harness.shell("$BIN vocals --engine dsp \(flags) -i \(input) -o bounds-out.wav")
            assertOneLineError(run, message, flags)
            XCTAssertFalse(run.stderr.contains("Missing value"), flags)
            XCTAssertNil(bytes(Harness.path("bounds-out.wav")), "\(flags) created the output")
        }
    }

    func testParameterErrorsComeBeforeTheInputArrivesAndCreateNothing() throws {
        let input = try tone("early.wav")
        for (flags, message) in [("vocals --engine dsp --chunk 5 --overlap 4", "overlap 4 s is more than half the 5 s window"),
                                 ("\"a dog barking\" --engine dsp", "cannot separate 'a dog barking'"),
                                 ("vocals --engine dsp --chunk 0", "above 0 s"),
                                 ("vocals --engine nonsense", "nonsense")] {
            // The input arrives only after 5 s; the tool's own time is measured.
            let run = try Harness.shell("start=$(date +%s%N); $BIN \(flags) -o early-out.wav < <(sleep 5; cat \(input)); "
                                        + "status=$?; echo $(( ($(date +%s%N) - start) / 1000000 )); exit $status")
            assertOneLineError(run, message, flags)
            let milliseconds = Int(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? .max
            XCTAssertLessThan(milliseconds, 3000, "\(flags) waited for the input")
            XCTAssertNil(bytes(Harness.path("early-out.wav")), "\(flags) created the output")
        }
    }

    func testAShortChunkAloneIsAcceptedWithAScaledDownOverlap() throws {
        let input = try tone("short-chunk.wav")
        let run = try Harness.shell("$BIN vocals --engine dsp --chunk 1 -i \(input) -o short-chunk-out.wav")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try Harness.readAudio(Harness.path("short-chunk-out.wav")).channels.first?.count, 48_000)
    }

    func testRatesPast32BitsAndOutOfTheResamplersReachAreOneLine() throws {
        let input = try tone("rates.wav")
        for (command, message) in [
            ("sox \(input) -t raw - | $BIN --engine identity -t raw -r 2147483648 -c 1 -b 16 -e signed > /dev/null", "4000000"),
            ("sox \(input) -t raw - | $BIN --engine identity -t raw -r 1 -c 1 -b 16 -e signed > /dev/null",
             "input sample rate 1 hz is out of reach"),
            ("$BIN --engine identity --out-rate 100 -i \(input) > /dev/null", "output sample rate 100 hz is out of reach"),
        ] {
            assertOneLineError(try Harness.shell(command), message, command)
        }
        try Harness.shell("sox -n -r 1 -c 1 -b 16 one-hz.wav synth 30 sine 0.1")
        assertOneLineError(try Harness.shell("$BIN --engine identity -i one-hz.wav > /dev/null"),
                           "input sample rate 1 hz is out of reach", "a 1 hz file")
    }

    func testMessagesNameWhatIsWrong() throws {
        let input = try tone("names.wav")
        assertOneLineError(try Harness.shell("$BIN --engine identity -i /tmp > /dev/null"), "input '/tmp' is a folder", "folder in")
        assertOneLineError(try Harness.shell("$BIN --engine identity -i \(input) -o /tmp"), "output '/tmp' is a folder", "folder out")
        assertOneLineError(try Harness.shell("$BIN --engine identity -i \(input) -o no-such-folder/x.wav"),
                           "folder 'no-such-folder' does not exist", "missing folder")
    }

    func testALongButLegalOutputNameIsWritten() throws {
        let input = try tone("long-in.wav")
        // 250 bytes: legal (NAME_MAX is 255), but its temporary name `.NAME.audiosep-XXXXXX` would not be.
        let name = String(repeating: "n", count: 246) + ".wav"
        try? FileManager.default.removeItem(atPath: Harness.path(name))
        let run = try Harness.shell("$BIN --engine identity -q -i \(input) -o \(name)")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try Harness.readAudio(Harness.path(name)).channels.first?.count, 48_000)
        // Over an existing file too (staged, then renamed onto it), and nothing left beside it.
        let again = try Harness.shell("$BIN --engine identity -q -i \(input) -o \(name)")
        XCTAssertEqual(again.status, 0, again.stderr)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: Harness.directory).filter { $0.contains(".audiosep-") }
        XCTAssertEqual(leftovers, [], "temporary files left behind")
        try? FileManager.default.removeItem(atPath: Harness.path(name))
    }

    func testNamesOfStandardOutputAreStandardOutput() throws {
        let input = try tone("stdout-in.wav")
        try Harness.shell("ln -sf /dev/stdout my-stdout")
        // The same bytes as `-o -`: through a pipe (a header with the length known up front) and
        // into a file the shell opened (the header patched at the end).
        let piped = try Harness.shell("$BIN --engine identity -q -i \(input) -o - | cat")
        XCTAssertEqual(piped.status, 0, piped.stderr)
        try Harness.shell("$BIN --engine identity -q -i \(input) -o - > stdout-ref.wav")
        let reference = try XCTUnwrap(bytes(Harness.path("stdout-ref.wav")))
        XCTAssertGreaterThan(reference.count, 96_000)
        for name in ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "my-stdout"] {
            let run = try Harness.shell("$BIN --engine identity -q -i \(input) -o \(name) | cat")
            XCTAssertEqual(run.status, 0, "\(name) to a pipe: \(run.stderr)")
            XCTAssertEqual(run.stdout, piped.stdout, "\(name) to a pipe")
            let file = try Harness.shell("$BIN --engine identity -q -i \(input) -o \(name) > stdout-out.wav")
            XCTAssertEqual(file.status, 0, "\(name) to a file: \(file.stderr)")
            XCTAssertEqual(bytes(Harness.path("stdout-out.wav")), reference, "\(name) to a file")
        }
        // A terminal is refused for these names as for `-o -`.
        let terminal = try Harness.shell("script -qec '$BIN --engine identity -i \(input) -o /dev/stdout' /dev/null < /dev/null")
        let screen = String(decoding: terminal.stdout, as: UTF8.self)
        XCTAssertTrue(screen.contains("refusing to write binary audio to a terminal"), screen)
        XCTAssertFalse(screen.contains("RIFF"), "audio reached the terminal")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: Harness.directory).filter { $0.contains(".audiosep-") }
        XCTAssertEqual(leftovers, [], "temporary files left behind")
    }

    // MARK: Headers

    func testABlockAlignThatDoesNotMatchTheSamplesIsRefused() throws {
        // 7 bits per sample with block align 0: libsndfile reads it as 8-bit; sox refuses it.
        var header = Data("RIFF".utf8)
        let samples = Data((0..<8000).map { UInt8(truncatingIfNeeded: $0) })
        func le(_ value: Int, _ width: Int) -> Data { Data((0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }) }
        header += le(36 + samples.count, 4) + Data("WAVEfmt ".utf8) + le(16, 4)
        header += le(1, 2) + le(1, 2) + le(8000, 4) + le(8000, 4) + le(0, 2) + le(7, 2)
        header += Data("data".utf8) + le(samples.count, 4)
        let path = Harness.path("block-align.wav")
        try (header + samples).write(to: URL(fileURLWithPath: path))
        for command in ["$BIN --engine identity -i \(path) > /dev/null", "cat \(path) | $BIN --engine identity > /dev/null"] {
            assertOneLineError(try Harness.shell(command), "block align 0 does not match 1 channel × 1 byte", command)
        }
    }

    func testATruncatedFLACIsAnErrorFromAPipeAsFromAFile() throws {
        try Harness.shell("sox -n -r 44100 -c 1 -b 16 whole.flac synth 3 pinknoise; head -c $(( $(stat -c %s whole.flac) / 2 )) whole.flac > cut.flac")
        var messages: [String] = []
        for command in ["$BIN --engine identity -i cut.flac -o cut-a.wav", "$BIN --engine identity < cut.flac > cut-b.wav",
                        "cat cut.flac | $BIN --engine identity > cut-c.wav"] {
            let run = try Harness.shell(command)
            assertOneLineError(run, "truncated", command)
            messages.append(run.stderr)
        }
        XCTAssertEqual(Set(messages).count, 1, "the paths disagree: \(messages)")
        // What arrived is kept, ended validly.
        for name in ["cut-a.wav", "cut-b.wav", "cut-c.wav"] {
            let frames = try Harness.readAudio(Harness.path(name)).channels.first?.count ?? 0
            XCTAssertGreaterThan(frames, 44_100, name)
            XCTAssertLessThan(frames, 3 * 44_100, name)
        }
        let whole = try Harness.shell("cat whole.flac | $BIN --engine identity > whole.wav")
        XCTAssertEqual(whole.status, 0, whole.stderr)
    }

    /// sox writes the true length into a header on a pipe when it knows it; so do we, and readers
    /// of the pipe (Python's wave, ffmpeg) take it without complaint.
    func testAPipedHeaderCarriesTheTrueLengthWhenItIsKnown() throws {
        let input = try tone("length-in.wav", rate: 44_100)
        for (command, frames) in [("cat \(input) | $BIN --engine identity", 3 * 44_100),
                                  ("cat \(input) | $BIN --engine identity --out-rate 16k", 3 * 16_000),
                                  ("sox \(input) -t wav - | $BIN --engine identity", 3 * 44_100)] {
            let run = try Harness.shell(command)
            XCTAssertEqual(run.status, 0, run.stderr)
            let lengths = try XCTUnwrap(wavLengths(run.stdout), command)
            XCTAssertEqual(lengths.stated, lengths.actual, command)
            XCTAssertEqual(lengths.stated, frames * 2, command)
            let python = try Harness.shell("\(command) | python3 -c 'import wave,sys; w=wave.open(sys.stdin.buffer); "
                                           + "n=w.getnframes(); assert len(w.readframes(n)) == 2*n; print(n)'")
            XCTAssertEqual(python.status, 0, python.stderr)
            XCTAssertEqual(String(decoding: python.stdout, as: UTF8.self), "\(frames)\n", command)
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") {
                // (Its note that it guessed "mono" from a channel count is no complaint about the header.)
                let ffmpeg = try Harness.shell("\(command) | ffmpeg -nostdin -v warning -i - -f null - 2>&1 | grep -v 'Guessed Channel Layout' || true")
                XCTAssertEqual(ffmpeg.status, 0, command)
                XCTAssertEqual(String(decoding: ffmpeg.stdout, as: UTF8.self), "", "ffmpeg complained about \(command)")
            }
        }
        // Length unknown in advance (raw input on a pipe): the streaming placeholder, as sox's.
        let raw = try Harness.shell("sox \(input) -t raw - | $BIN --engine identity -t raw -r 44.1k -c 1 -b 16 -e signed")
        XCTAssertEqual(raw.status, 0, raw.stderr)
        XCTAssertEqual(wavLengths(raw.stdout)?.stated, 0x7FFF_F000)
    }

    // MARK: Conventions from sox, gzip and ffmpeg

    func testArgumentErrorsAreOneLineAndExitOne() throws {
        let unknown = try Harness.shell("$BIN --chunkk 5 < /dev/null")
        assertOneLineError(unknown, "Did you mean '--chunk'", "--chunkk")
        let negative = try Harness.shell("$BIN vocals --chunk -5 < /dev/null")
        assertOneLineError(negative, "above 0 s", "--chunk -5")
        let version = try Harness.shell("$BIN --version")
        XCTAssertEqual(version.status, 0)
        XCTAssertTrue(String(decoding: version.stdout, as: UTF8.self).hasPrefix("audiosep-stream "))
    }

    func testSoxConventionsForStreamsRatesByteOrderAndEncodings() throws {
        let input = try tone("sox-in.wav")
        // `-` is stdin for -i and stdout for -o.
        let dash = try Harness.shell("$BIN --engine identity -i - -o - < \(input) > sox-dash.wav")
        XCTAssertEqual(dash.status, 0, dash.stderr)
        // (The identity engine works at 44.1 kHz: the round trip through the resampler is not bit-exact.)
        let samples = try Harness.readAudio(input).channels[0]
        func assertSame(_ name: String, _ label: String) throws {
            let output = try Harness.readAudio(Harness.path(name)).channels[0]
            XCTAssertEqual(output.count, samples.count, label)
            XCTAssertGreaterThan(snr(samples, output), 60, label)
        }
        try assertSame("sox-dash.wav", "-i - -o -")
        // 16k as a rate; -B reads big-endian raw as sox's -B writes it; -x is the opposite order.
        for (flag, soxFlag) in [("-B", "-B"), ("-L", "-L"), ("-x", "-B"), ("--endian big", "-B")] {
            let run = try Harness.shell("sox \(input) -t raw \(soxFlag) - | $BIN --engine identity -t raw -r 16k -c 1 -b 16 -e signed \(flag) -o sox-order.wav")
            XCTAssertEqual(run.status, 0, run.stderr)
            try assertSame("sox-order.wav", flag)
        }
        // Float output from 16-bit input is 32-bit float.
        let float = try Harness.shell("$BIN --engine identity --out-encoding float -i \(input) -o sox-float.wav")
        XCTAssertEqual(float.status, 0, float.stderr)
        XCTAssertEqual(try Harness.readAudio(Harness.path("sox-float.wav")).format.bits, 32)
        XCTAssertEqual(try Harness.readAudio(Harness.path("sox-float.wav")).format.encoding, .floatingPoint)
        // Errors list the valid values; raw-only flags on a headed input are an error.
        assertOneLineError(try Harness.shell("$BIN --engine identity -t mp5 < \(input) > /dev/null"), "valid: auto, raw, wav", "-t")
        assertOneLineError(try Harness.shell("$BIN --engine identity -t raw -r 16k -c 1 -b 16 -e bogus < \(input) > /dev/null"),
                           "valid: signed-integer", "-e")
        assertOneLineError(try Harness.shell("$BIN --engine identity -r 48000 < \(input) > /dev/null"), "-r describes raw input", "-r on wav")
        assertOneLineError(try Harness.shell("$BIN --engine identity -B < \(input) > /dev/null"), "-B describes raw input", "-B on wav")
    }

    func testBinaryToATerminalIsRefusedAndAWaitingStdinIsNamed() throws {
        let input = try tone("tty-in.wav")
        // `script` gives the tool a terminal for stdin, stdout and stderr.
        let toTerminal = try Harness.shell("script -qec '$BIN --engine identity -i \(input)' /dev/null < /dev/null")
        let screen = String(decoding: toTerminal.stdout, as: UTF8.self)
        XCTAssertNotEqual(toTerminal.status, 0)
        XCTAssertTrue(screen.contains("refusing to write binary audio to a terminal"), screen)
        XCTAssertTrue(screen.contains("> out.wav"), screen)
        XCTAssertFalse(screen.contains("RIFF"), "audio reached the terminal")
        let waiting = try Harness.shell("timeout 10 script -qec '$BIN --engine identity -o tty-out.wav' /dev/null < /dev/null")
        XCTAssertTrue(String(decoding: waiting.stdout, as: UTF8.self).contains("waiting for audio on stdin"))
    }

    func testProgressToALogIsLinesWithTotalPercentAndETA() throws {
        let input = try tone("progress-in.wav", seconds: 120)
        let run = try Harness.shell("cat \(input) | $BIN --engine identity --progress --chunk 1 --overlap 0.1 -o progress-out.wav 2> progress.log; cat progress.log")
        XCTAssertEqual(run.status, 0, run.stderr)
        let log = String(decoding: run.stdout, as: UTF8.self)
        XCTAssertFalse(log.contains("\r"), log)
        let lines = log.split(separator: "\n")
        XCTAssertGreaterThanOrEqual(lines.count, 1, log)
        for line in lines {
            XCTAssertTrue(line.contains("of 120.0 s ("), String(line))
            XCTAssertTrue(line.contains("%)"), String(line))
            XCTAssertTrue(line.contains("ETA"), String(line))
        }
    }

    func testHelpListsTheBuiltInEngineAndItsWords() throws {
        let help = String(decoding: try Harness.shell("$BIN separate --help").stdout, as: UTF8.self)
        for word in ["dsp", "identity", "vocals", "drums", "bass", "piano"] {
            XCTAssertTrue(help.contains(word), "separate --help lacks \(word)")
        }
    }

    /// Every example in the help is one command a user can copy: none is wrapped onto a second
    /// line, and embed and convert list only the options they use.
    func testHelpExamplesCopyPasteAndListOnlyWhatApplies() throws {
        for command in ["", "separate", "embed", "convert", "tune", "worker"] {
            let help = String(decoding: try Harness.shell("$BIN \(command) --help").stdout, as: UTF8.self)
            guard let start = help.range(of: "Examples:\n") else { XCTFail("\(command) --help has no examples"); continue }
            let examples = String(help[start.upperBound...]).components(separatedBy: "\n\n")[0]
            for line in examples.split(separator: "\n") {
                XCTAssertTrue(line.hasPrefix("  "), "\(command) --help: an example wrapped onto '\(line)'")
            }
        }
        for command in ["embed", "convert"] {
            let help = String(decoding: try Harness.shell("$BIN \(command) --help").stdout, as: UTF8.self)
            let usage = help.split(separator: "\n").first { $0.hasPrefix("USAGE:") }.map(String.init) ?? ""
            XCTAssertTrue(usage.contains("--model"), usage)
            for option in ["--threads", "--kernels", "--precision", "--convolution", "--embedding"] {
                XCTAssertFalse(usage.contains(option), "\(command) --help lists \(option), which it does not use")
            }
        }
    }

    func testNonFiniteNetworkOutputIsReplacedAndCounted() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/audiosep-tiny").path
        // 1e30 is finite, but no network computes with it: its output is Inf and NaN.
        let script = "python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack(\"<32000f\", *([1e30, -1e30] * 16000)))'"
        let run = try Harness.shell("\(script) | $BIN --engine audiosep --model \(fixtures)/tiny.ckpt --embedding \(fixtures)/embedding.f32 "
                                    + "-t raw -r 32000 -c 1 -b 32 -e float --out-type raw | od -An -v -tf4 | grep -ci nan")
        XCTAssertTrue(run.stderr.contains("NaN or infinite samples from the audiosep engine replaced by 0"), run.stderr)
        XCTAssertEqual(String(decoding: run.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "0")
    }

    /// A window whose feature maps cannot fit is refused before the run, naming a length that fits,
    /// instead of failing to allocate half-way: the tiny model's maps at an hour (about 14 GB)
    /// under an address-space limit of 8 GiB (`ulimit -v`), whatever memory the machine has.
    func testAWindowTooLargeForMemoryIsRefusedUpFront() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/audiosep-tiny").path
        let input = try tone("huge-window.wav")
        let run = try Harness.shell("ulimit -v 8388608; $BIN --engine audiosep --model \(fixtures)/tiny.ckpt --embedding \(fixtures)/embedding.f32 "
                                    + "--chunk 3600 -i \(input) -o huge-window-out.wav")
        // A sanitized binary (tools/sanitize) reserves terabytes of shadow memory at start, which
        // no address-space limit leaves room for: there the limit cannot be tried.
        if ["Sanitizer failed to allocate", "Sanitizer can not mmap", "Sanitizer: cannot"].contains(where: run.stderr.contains) {
            throw XCTSkip("a sanitized binary cannot start under an address-space limit")
        }
        assertOneLineError(run, "window needs about", "--chunk 3600")
        XCTAssertTrue(run.stderr.contains("this process can have 8.6 GB"), run.stderr)
        XCTAssertTrue(run.stderr.contains("give --chunk"), run.stderr)
        XCTAssertNil(bytes(Harness.path("huge-window-out.wav")))
    }
}
