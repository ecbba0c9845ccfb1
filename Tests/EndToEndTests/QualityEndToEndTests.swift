import Foundation
import TestSupport
import XCTest

/// The built-in engine's separation quality through the real binary, on mixtures of the
/// evaluation corpus made at test time by `tools/make-corpus` (FluidSynth's General MIDI
/// instruments and espeak-ng voices, the first mixtures of its test split: fixed seeds, never
/// used while tuning). Each mixture goes through a pipe for its class's query and is scored with
/// SI-SDR against its target stem. `tools/bench-quality` is the full benchmark (40 mixtures a
/// class, side by side with the classical separators).
final class QualityEndToEndTests: XCTestCase {
    static let rate = 44_100
    static let perClass = 3
    /// Class (the corpus's query word) and the mean SI-SDR improvement its mixtures must reach
    /// (dB). For vocals, accompaniment and tonal instruments it is 3 dB and for drums 6 dB, the
    /// goals the engine clears on the whole test split (docs/quality.md; these three drums mixtures
    /// reach +6.23); for bass, which falls short of its goal, a floor below what these three reach
    /// (+2.14 dB when it was set), so that a regression fails.
    static let bounds: [(query: String, dB: Double)] = [
        ("vocals", 3), ("accompaniment", 3), ("drums", 6), ("bass", 1.5), ("harmonic", 3),
    ]

    static let folder = Harness.path("quality")
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    /// The corpus, made once: `tools/make-corpus DIR --split test --per-class 3`.
    static let corpus: Result<String, Error> = Result {
        let run = try Harness.shell("python3 \(repository)/tools/make-corpus \(folder) --split test --per-class \(perClass) --jobs 2")
        guard run.status == 0 else { throw CorpusError.failed(run.stderr) }
        return "\(folder)/test"
    }
    /// Separated outputs by mixture folder and query, each run once.
    static var separated: [String: [Float]] = [:]

    enum CorpusError: Error { case failed(String), separation(String, String) }

    static func mixture(_ query: String, _ index: Int) throws -> String {
        String(format: "%@/%@-%03d", try corpus.get(), query, index)
    }

    // MARK: - The tests

    func testEveryClassImprovesOnItsTargetByItsBound() throws {
        var table = "mixture              mixture  output  improve (SI-SDR, dB)\n"
        for bound in Self.bounds {
            var improvements: [Double] = []
            for index in 0..<Self.perClass {
                let folder = try Self.mixture(bound.query, index)
                let mixture = try Harness.readAudio("\(folder)/mixture.wav").channels[0]
                let target = try Harness.readAudio("\(folder)/target.wav").channels[0]
                let output = try separate(folder, bound.query)
                let before = Self.siSDR(target, mixture), after = Self.siSDR(target, output)
                improvements.append(after - before)
                table += ((folder as NSString).lastPathComponent as String).padding(toLength: 20, withPad: " ", startingAt: 0)
                    + String(format: "%7.2f %7.2f %8.2f\n", before, after, after - before)
            }
            let mean = improvements.reduce(0, +) / Double(improvements.count)
            table += String(format: "  %@ mean %.2f dB, bound %.1f dB\n", bound.query, mean, bound.dB)
            XCTAssertGreaterThanOrEqual(mean, bound.dB, "'\(bound.query)': mean SI-SDR improvement \(mean) dB over \(improvements)")
        }
        print(table, terminator: "")
    }

    func testVocalsAndAccompanimentAddUpToTheMixture() throws {
        let folder = try Self.mixture("vocals", 0)
        let mixture = try Harness.readAudio("\(folder)/mixture.wav").channels[0]
        let vocals = try separate(folder, "vocals"), accompaniment = try separate(folder, "accompaniment")
        let sum = zip(vocals, accompaniment).map { $0 + $1 }
        XCTAssertEqual(sum.count, mixture.count)
        let snr = snr(mixture, sum)
        XCTAssertGreaterThanOrEqual(snr, 40, "vocals + accompaniment against the mixture: \(snr) dB (the masks are complementary)")
    }

    func testAnUnsupportedQueryIsOneLineListingWhatTheEngineKnows() throws {
        let mix = try Self.mixture("vocals", 0) + "/mixture.wav"
        let run = try Harness.shell("sox \(mix) -t wav - | $BIN --engine dsp \"a dog barking\" > /dev/null")
        XCTAssertEqual(run.status, 1, run.stderr)
        let lines = run.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line: \(run.stderr)")
        let line = String(lines.first ?? "")
        XCTAssertTrue(line.hasPrefix("audiosep-stream: "), line)
        XCTAssertTrue(line.contains("a dog barking"), line)
        for known in ["voice", "vocals", "accompaniment", "percussion", "drums", "bass", "harmonic", "piano"] {
            XCTAssertTrue(line.contains(known), "the error lists '\(known)': \(line)")
        }
    }

    func testAutoWithoutAModelUsesTheBuiltInEngineAndSaysSo() throws {
        let mix = try Self.mixture("vocals", 0) + "/mixture.wav"
        let home = Harness.path("quality-empty-home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let auto = try Harness.shell("sox \(mix) -t wav - | env -u AUDIOSEP_MODEL HOME=\(home) $BIN vocals")
        XCTAssertEqual(auto.status, 0, auto.stderr)
        let lines = auto.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line on stderr: \(auto.stderr)")
        XCTAssertTrue(auto.stderr.contains("built-in engine, 'vocals' → voice"), auto.stderr)
        let dsp = try Harness.shell("sox \(mix) -t wav - | env -u AUDIOSEP_MODEL HOME=\(home) $BIN --engine dsp vocals")
        XCTAssertEqual(dsp.status, 0, dsp.stderr)
        XCTAssertEqual(dsp.stderr, "audiosep-stream: built-in engine: 'vocals' → voice\n", "--engine dsp says only what it used")
        XCTAssertEqual(auto.stdout, dsp.stdout, "--engine auto without a model separates exactly as --engine dsp")
    }

    // MARK: - Separation and scoring

    /// `sox mixture.wav -t wav - | audiosep-stream --engine dsp QUERY > out.wav`.
    func separate(_ folder: String, _ query: String) throws -> [Float] {
        let key = folder + "|" + query
        if let done = Self.separated[key] { return done }
        let output = "\(folder)/out-\(query).wav"
        let run = try Harness.shell("sox \(folder)/mixture.wav -t wav - | $BIN --engine dsp \"\(query)\" > \(output)")
        guard run.status == 0 else { throw CorpusError.separation(query, run.stderr) }
        XCTAssertTrue(run.stderr.hasPrefix("audiosep-stream: built-in engine: '\(query)' → ") && run.stderr.split(separator: "\n").count == 1,
                      "\(query): \(run.stderr)")
        let audio = try Harness.readAudio(output)
        XCTAssertEqual(audio.rate, Self.rate)
        let mono = audio.channels[0]
        XCTAssertEqual(mono.count, try Harness.readAudio("\(folder)/mixture.wav").channels[0].count, "\(query): output as long as the input")
        Self.separated[key] = mono
        return mono
    }

    /// Scale-invariant SDR (Le Roux et al. 2019), means removed, in dB.
    static func siSDR(_ reference: [Float], _ estimate: [Float]) -> Double {
        let count = min(reference.count, estimate.count)
        var referenceMean = 0.0, estimateMean = 0.0
        for i in 0..<count {
            referenceMean += Double(reference[i])
            estimateMean += Double(estimate[i])
        }
        referenceMean /= Double(count)
        estimateMean /= Double(count)
        var dot = 0.0, energy = 0.0
        for i in 0..<count {
            let r = Double(reference[i]) - referenceMean, e = Double(estimate[i]) - estimateMean
            dot += r * e
            energy += r * r
        }
        let scale = dot / energy
        var target = 0.0, noise = 0.0
        for i in 0..<count {
            let r = scale * (Double(reference[i]) - referenceMean), e = Double(estimate[i]) - estimateMean
            target += r * r
            noise += (e - r) * (e - r)
        }
        return 10 * log10(target / max(noise, 1e-30))
    }
}
