import Foundation
import Stream
import TestSupport
import XCTest

/// The AudioSep engine through the real binary, on the tiny fixture model and its reference output.
final class AudioSepEndToEndTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/audiosep-tiny").path
    let model = "--engine audiosep --model \(fixtures)/tiny.ckpt --embedding \(fixtures)/embedding.f32"
    let rawMono = "-t raw -r 32000 -c 1 -b 32 -e float --out-type raw"
    let float32 = try! SampleFormat(encoding: .floatingPoint, bits: 32)

    func testOneWindowEqualsTheReferenceForwardPass() throws {
        let output = Harness.path("tiny-out.f32")
        let run = try Harness.shell("$BIN \(model) \(rawMono) < \(Self.fixtures)/input.f32 > \(output)")
        XCTAssertEqual(run.status, 0, run.stderr)
        let expected = try Harness.readRaw("\(Self.fixtures)/output.f32", channels: 1, format: float32)[0]
        let actual = try Harness.readRaw(output, channels: 1, format: float32)[0]
        XCTAssertEqual(actual.count, expected.count)
        XCTAssertGreaterThanOrEqual(snr(expected, actual), 60)
    }

    /// Both convolution algorithms equal the reference; `--profile` prints every layer with its
    /// GFLOP and GFLOP/s; an unknown algorithm is one line.
    func testConvolutionAlgorithmsAndTheLayerProfile() throws {
        let expected = try Harness.readRaw("\(Self.fixtures)/output.f32", channels: 1, format: float32)[0]
        for algorithm in ["winograd", "im2col"] {
            let output = Harness.path("tiny-\(algorithm).f32")
            let run = try Harness.shell("$BIN \(model) \(rawMono) --convolution \(algorithm) --profile < \(Self.fixtures)/input.f32 > \(output)")
            XCTAssertEqual(run.status, 0, run.stderr)
            let actual = try Harness.readRaw(output, channels: 1, format: float32)[0]
            XCTAssertGreaterThanOrEqual(snr(expected, actual), 60, algorithm)
            let rows = run.stderr.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            XCTAssertEqual(rows.first, ["stage", "seconds", "GFLOP", "GFLOP/s", "share"], run.stderr)
            // On the fused Winograd kernels levels 0–2 run in row bands, each block one stage with
            // the layers made and used band by band around it; on im2col, layer by layer.
            let fused = algorithm == "winograd" && !run.stderr.contains("decoder_block6/shortcut")
            let stages = fused ? ["encoder_block1/pre_conv+conv1+conv2+residual+pool", "decoder_block6/upsample+conv1+conv2+shortcut+after_conv"]
                               : ["encoder_block1/conv1", "decoder_block6/conv2"]
            for stage in stages + ["decoder_block3/upsample", "engine"] {
                let row = try XCTUnwrap(rows.first { $0.first == stage }, "\(stage) missing:\n\(run.stderr)")
                let numbers = row.dropFirst(stage == "engine" ? 2 : 1).prefix(3).compactMap(Double.init)
                XCTAssertEqual(numbers.count, 3, "seconds, GFLOP, GFLOP/s in \(row)")
                XCTAssertGreaterThan(numbers[1], 0, "\(stage) does arithmetic")
            }
        }
        let bad = try Harness.shell("$BIN \(model) \(rawMono) --convolution fft < \(Self.fixtures)/input.f32 > /dev/null")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--convolution must be winograd or im2col, got fft"), bad.stderr)
    }

    /// Every Winograd kernel equals the reference through the binary, or, where the CPU lacks its
    /// instructions, refuses in one line; an unknown kernel is one line.
    func testWinogradKernels() throws {
        let expected = try Harness.readRaw("\(Self.fixtures)/output.f32", channels: 1, format: float32)[0]
        var ran = 0
        for kernel in ["auto", "avx512", "avx2", "portable", "blas"] {
            let output = Harness.path("tiny-kernel-\(kernel).f32")
            let run = try Harness.shell("$BIN \(model) \(rawMono) --kernels \(kernel) < \(Self.fixtures)/input.f32 > \(output)")
            if run.status != 0, run.stderr.contains("--kernels \(kernel) needs an instruction set this CPU lacks") {
                XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
                continue
            }
            XCTAssertEqual(run.status, 0, run.stderr)
            let actual = try Harness.readRaw(output, channels: 1, format: float32)[0]
            XCTAssertGreaterThanOrEqual(snr(expected, actual), 60, kernel)
            ran += 1
        }
        XCTAssertGreaterThanOrEqual(ran, 3, "auto, portable and blas run on every CPU")
        // As on a CPU without AVX-512 or AVX2: auto is the three phases, the fused builds refuse.
        let without = "AUDIOSEP_NO_AVX512=1 AUDIOSEP_NO_AVX2=1 $BIN \(model) \(rawMono)"
        let auto = Harness.path("tiny-kernel-baseline.f32")
        XCTAssertEqual(try Harness.shell("\(without) < \(Self.fixtures)/input.f32 > \(auto)").status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: auto)),
                       try Data(contentsOf: URL(fileURLWithPath: Harness.path("tiny-kernel-blas.f32"))))
        for (kernel, lacking) in [("avx512", "AVX-512F"), ("avx2", "AVX2 and FMA")] {
            let refused = try Harness.shell("\(without) --kernels \(kernel) < \(Self.fixtures)/input.f32 > /dev/null")
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertEqual(refused.stderr.trimmingCharacters(in: .whitespacesAndNewlines),
                           "audiosep-stream: --kernels \(kernel) needs an instruction set this CPU lacks (\(lacking))")
        }
        let bad = try Harness.shell("$BIN \(model) \(rawMono) --kernels cuda < \(Self.fixtures)/input.f32 > /dev/null")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--kernels must be auto, avx512, avx2, portable or blas, got cuda"), bad.stderr)
    }

    /// bf16 computes something close to fp32 but not equal (on this tiny random model the mask's
    /// phase amplifies bf16's rounding: see README, "Performance"); where the CPU lacks AVX-512
    /// BF16, or it is turned off, the run says so and computes fp32.
    func testBFloat16PrecisionAndItsFallback() throws {
        let fp32 = Harness.path("tiny-fp32.f32"), bf16 = Harness.path("tiny-bf16.f32"), fallback = Harness.path("tiny-fallback.f32")
        try Harness.shell("$BIN \(model) \(rawMono) < \(Self.fixtures)/input.f32 > \(fp32)")
        for (algorithm, least) in [("im2col", 20.0), ("winograd", 15.0)] {
            let run = try Harness.shell("$BIN \(model) \(rawMono) --convolution \(algorithm) --precision bf16 < \(Self.fixtures)/input.f32 > \(bf16)")
            XCTAssertEqual(run.status, 0, run.stderr)
            if run.stderr.contains("--precision bf16 needs AVX-512 BF16") {
                // This CPU lacks it: the run fell back to fp32 (checked below, with the variable set).
                continue
            }
            let reference = try Harness.readRaw(fp32, channels: 1, format: float32)[0]
            let reduced = try Harness.readRaw(bf16, channels: 1, format: float32)[0]
            let snr = snr(reference, reduced)
            XCTAssertGreaterThan(snr, least, "\(algorithm) bf16 against fp32")
            XCTAssertLessThan(snr, 90, "\(algorithm) bf16 must actually round")
        }
        let off = try Harness.shell("AUDIOSEP_NO_AVX512BF16=1 $BIN \(model) \(rawMono) --precision bf16 < \(Self.fixtures)/input.f32 > \(fallback)")
        XCTAssertEqual(off.status, 0, off.stderr)
        XCTAssertTrue(off.stderr.contains("--precision bf16 needs AVX-512 BF16"), off.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: fallback)), try Data(contentsOf: URL(fileURLWithPath: fp32)))
    }

    func testSafetensorsModelAndStereoSeparateEachChannel() throws {
        // Stereo WAV at 44.1 kHz: each channel is resampled, separated on its own, resampled back.
        let stereo = Harness.path("tiny-stereo.wav"), left = Harness.path("tiny-left.wav")
        try Harness.shell("sox -n -r 44100 -c 2 -b 16 \(stereo) synth 1.3 sine 440 sine 1250 vol 0.5")
        try Harness.shell("sox \(stereo) \(left) remix 1")
        let both = try Harness.shell("$BIN --engine audiosep --model \(Self.fixtures)/tiny.safetensors --embedding \(Self.fixtures)/embedding.f32 --chunk 1 --overlap 0.25 -o \(Harness.path("tiny-both.wav")) < \(stereo)")
        XCTAssertEqual(both.status, 0, both.stderr)
        let one = try Harness.shell("$BIN \(model) --chunk 1 --overlap 0.25 -o \(Harness.path("tiny-one.wav")) < \(left)")
        XCTAssertEqual(one.status, 0, one.stderr)
        let result = try Harness.readAudio(Harness.path("tiny-both.wav")), mono = try Harness.readAudio(Harness.path("tiny-one.wav"))
        XCTAssertEqual(result.channels.count, 2)
        XCTAssertEqual(result.channels[0].count, Int(1.3 * 44_100))
        XCTAssertEqual(result.channels[0], mono.channels[0], "the left channel is separated exactly as it is alone")
        XCTAssertNotEqual(result.channels[0], result.channels[1])
    }

    /// Windows start on the network's pooling grid (the overlap is snapped for it), so away from
    /// the seams a chunked run computes what one pass over the whole input computes, to rounding:
    /// the sums are the same but their order is not everywhere (im2col's sgemm blocks by the
    /// map's size; the Winograd tiles of level 5 and the centre, 4 of their frames, are 128 and
    /// 256 input frames tall, finer than the 32-frame grid windows start on). Over 12 random
    /// inputs that gave 102.8–107.6 dB, and one CI run 91.6 dB, so the input is fixed (sox -R)
    /// and the bound is 95 dB; a window off the pooling grid gives tens of dB.
    func testChunkedRunEqualsOnePassAwayFromTheSeams() throws {
        try Harness.shell("sox -R -n -r 32000 -c 1 -b 32 -e floating-point grid-in.wav synth 16 pinknoise vol 0.3")
        let tiny = "--engine audiosep --model \(Self.fixtures)/tiny.safetensors --embedding \(Self.fixtures)/embedding.f32 -i grid-in.wav"
        let whole = try Harness.shell("$BIN \(tiny) --chunk 17 --overlap 0 -o grid-whole.wav")
        let chunked = try Harness.shell("$BIN \(tiny) --chunk 8 --overlap 1 --progress -o grid-chunked.wav")
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertEqual(chunked.status, 0, chunked.stderr)
        XCTAssertTrue(chunked.stderr.contains("chunk snapped to 7.990 s and overlap to 0.950 s"), chunked.stderr)
        let reference = try Harness.readAudio(Harness.path("grid-whole.wav")).channels[0]
        let test = try Harness.readAudio(Harness.path("grid-chunked.wav")).channels[0]
        XCTAssertEqual(test.count, reference.count)
        // Windows start at 0, 7.04 and 14.08 s; the tiny network's seams reach about 3 s either
        // side, so 10.6–11.2 s is inside the second window only.
        let interior = Int(10.6 * 32_000)..<Int(11.2 * 32_000)
        XCTAssertGreaterThan(snr(Array(reference[interior]), Array(test[interior])), 95)
        XCTAssertGreaterThan(snr(reference, test), 10, "the seams themselves stay close")
    }

    func testModelErrorsAreOneLine() throws {
        let cases = [
            ("$BIN --engine audiosep --model /nonexistent/model \(rawMono)", "no AudioSep model found (looked in /nonexistent/model)"),
            ("$BIN --engine audiosep --model \(Self.fixtures)/tiny.ckpt \(rawMono) \"vocals\"", "no tokenizer files (vocab.json, merges.txt) for text queries"),
            ("$BIN --engine audiosep --model \(Self.fixtures)/tiny.ckpt --embedding \(Self.fixtures)/input.f32 \(rawMono)", "not a query embedding"),
            ("$BIN --engine audiosep --model \(Self.fixtures)/README.md --embedding \(Self.fixtures)/embedding.f32 \(rawMono)", "README.md"),
        ]
        for (command, message) in cases {
            let run = try Harness.shell("\(command) < \(Self.fixtures)/input.f32 > /dev/null")
            XCTAssertNotEqual(run.status, 0, command)
            XCTAssertTrue(run.stderr.contains(message), "\(command): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr)
        }
    }
}

final class ConvertEndToEndTests: XCTestCase {
    func testConvertThenSeparateFromTheConvertedFile() throws {
        let fixtures = AudioSepEndToEndTests.fixtures
        let converted = Harness.path("converted.safetensors")
        let convert = try Harness.shell("$BIN convert --model \(fixtures)/tiny.ckpt -o \(converted)")
        XCTAssertEqual(convert.status, 0, convert.stderr)
        XCTAssertTrue(convert.stderr.contains("tensors"), convert.stderr)
        let rawMono = "-t raw -r 32000 -c 1 -b 32 -e float --out-type raw"
        let fromCheckpoint = try Harness.shell("$BIN --engine audiosep --model \(fixtures)/tiny.ckpt --embedding \(fixtures)/embedding.f32 \(rawMono) < \(fixtures)/input.f32")
        let fromConverted = try Harness.shell("AUDIOSEP_MODEL=\(converted) $BIN --embedding \(fixtures)/embedding.f32 \(rawMono) < \(fixtures)/input.f32")
        XCTAssertEqual(fromConverted.status, 0, fromConverted.stderr)
        XCTAssertEqual(fromCheckpoint.stdout, fromConverted.stdout, "the converted model separates bit for bit like the checkpoint (found through AUDIOSEP_MODEL, engine auto)")
        let broken = try Harness.shell("$BIN convert --model \(fixtures)/README.md -o \(Harness.path("x.safetensors"))")
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertEqual(broken.stderr.split(separator: "\n").count, 1, broken.stderr)
    }
}

final class TextQueryEndToEndTests: XCTestCase {
    static let clap = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/clap-tiny").path
    var model: String {
        "--checkpoint \(Self.clap)/audiosep.ckpt --clap-checkpoint \(Self.clap)/clap.pt --roberta-dir \(Self.clap)/roberta-base"
    }

    func testEmbedPrintsTheReferenceEmbeddingAndFeedsSeparation() throws {
        struct Query: Decodable { let text: String; let embedding: [Float] }
        let queries = try JSONDecoder().decode([Query].self, from: Data(contentsOf: URL(fileURLWithPath: Self.clap + "/queries.json")))
        let query = try XCTUnwrap(queries.first { $0.text == "a dog barking in the rain" })
        let json = try Harness.shell("$BIN embed \"\(query.text)\" \(model) --no-cache")
        XCTAssertEqual(json.status, 0, json.stderr)
        let printed = try JSONDecoder().decode([Float].self, from: json.stdout)
        XCTAssertEqual(printed.count, 512)
        XCTAssertLessThanOrEqual(zip(printed, query.embedding).map { abs($0 - $1) }.max()!, 1e-4)

        // --format f32 is what --embedding reads: separate with it through the tiny network.
        let file = Harness.path("dog.f32")
        let raw = try Harness.shell("$BIN embed \"\(query.text)\" \(model) --no-cache --format f32 > \(file)")
        XCTAssertEqual(raw.status, 0, raw.stderr)
        let tiny = AudioSepEndToEndTests.fixtures
        let separated = try Harness.shell("$BIN --engine audiosep --model \(tiny)/tiny.ckpt --embedding \(file) -t raw -r 32000 -c 1 -b 32 -e float --out-type raw < \(tiny)/input.f32 | wc -c")
        XCTAssertEqual(separated.status, 0, separated.stderr)
        XCTAssertEqual(String(decoding: separated.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "31676")
    }

    func testRepeatedQueriesComeFromTheCache() throws {
        let home = Harness.path("home-\(UUID().uuidString)")
        let first = try Harness.shell("HOME=\(home) $BIN embed vocals \(model) --format f32 | od -An -tx1 -N32")
        XCTAssertEqual(first.status, 0, first.stderr)
        let entries = try FileManager.default.contentsOfDirectory(atPath: home + "/.cache/audiosep-stream/embeddings")
        XCTAssertEqual(entries.count, 1, "one cached embedding")
        let second = try Harness.shell("HOME=\(home) $BIN embed vocals \(model) --format f32 | od -An -tx1 -N32")
        XCTAssertEqual(second.stdout, first.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: home + "/.cache/audiosep-stream/embeddings").count, 1)
        let uncached = try Harness.shell("HOME=\(home) $BIN embed vocals --checkpoint \(Self.clap)/audiosep.ckpt --no-cache")
        XCTAssertNotEqual(uncached.status, 0, "no CLAP weights and no cache: the encoder cannot be built")
    }
}
