import Foundation
import XCTest

/// The built-in engine's separation quality through the real binary: a fixed 7-second song made
/// with sox and espeak-ng (voice: speech and a sung phrase; chords; drums; bass; one 2-second bar
/// repeated under the voice) is separated for each class's query and scored with SI-SDR against
/// the stem it asks for. `tools/bench-quality` is the longer benchmark (two 20 s songs, the same
/// kinds of sources; this song has its song A's tempo, chords, drums, bass and levels).
final class QualityEndToEndTests: XCTestCase {
    static let rate = 44_100
    static let seconds = 7.0
    static var frames: Int { Int(seconds * Double(rate)) }
    /// Each stem's RMS in the mixture, dBFS (tools/bench-quality's song A).
    static let levels: [(stem: String, dB: Double)] = [("voice", -26), ("chords", -31), ("drums", -29), ("bass", -30)]
    /// Query, the stem it must bring out, and the SI-SDR improvement it must reach (dB).
    static let goals: [(query: String, target: String, dB: Double)] = [
        ("vocals", "voice", 3), ("accompaniment", "accompaniment", 3), ("drums", "drums", 6), ("bass", "bass", 6),
        ("piano", "chords", 3),
    ]

    struct Song {
        var mixture: [Float]
        /// Each target at its level in the mixture: voice, chords, drums, bass, accompaniment.
        var targets: [String: [Float]]
    }

    static let folder = Harness.path("quality")
    static let song: Result<Song, Error> = Result { try makeSong() }
    /// Separated outputs by query (mono), each run once.
    static var separated: [String: [Float]] = [:]

    // MARK: - The tests

    func testEveryClassImprovesOnItsStemByItsTarget() throws {
        let song = try Self.song.get()
        var table = "query          target         mixture  output  improve  goal\n"
        for goal in Self.goals {
            let output = try separate(goal.query)
            let reference = try XCTUnwrap(song.targets[goal.target])
            let before = Self.siSDR(reference, song.mixture), after = Self.siSDR(reference, output)
            table += goal.query.padding(toLength: 15, withPad: " ", startingAt: 0)
                + goal.target.padding(toLength: 15, withPad: " ", startingAt: 0)
                + String(format: "%7.2f %7.2f %8.2f  %4.0f\n", before, after, after - before, goal.dB)
            XCTAssertGreaterThanOrEqual(after - before, goal.dB,
                                        "'\(goal.query)': SI-SDR against the \(goal.target) stem \(before) dB in the mixture, \(after) dB out")
        }
        print(table, terminator: "")
    }

    func testVocalsAndAccompanimentAddUpToTheMixture() throws {
        let song = try Self.song.get()
        let vocals = try separate("vocals"), accompaniment = try separate("accompaniment")
        let sum = zip(vocals, accompaniment).map { $0 + $1 }
        XCTAssertEqual(sum.count, song.mixture.count)
        let snr = Harness.snr(song.mixture, sum)
        XCTAssertGreaterThanOrEqual(snr, 40, "vocals + accompaniment against the mixture: \(snr) dB (the masks are complementary)")
    }

    func testAnUnsupportedQueryIsOneLineListingWhatTheEngineKnows() throws {
        _ = try Self.song.get()
        let run = try Harness.shell("sox \(Self.folder)/mix.wav -t wav - | $BIN --engine dsp \"a dog barking\" > /dev/null")
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
        _ = try Self.song.get()
        let home = Harness.path("quality-empty-home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let auto = try Harness.shell("sox \(Self.folder)/mix.wav -t wav - | env -u AUDIOSEP_MODEL HOME=\(home) $BIN vocals")
        XCTAssertEqual(auto.status, 0, auto.stderr)
        let lines = auto.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line on stderr: \(auto.stderr)")
        XCTAssertTrue(auto.stderr.contains("built-in engine"), auto.stderr)
        let dsp = try Harness.shell("sox \(Self.folder)/mix.wav -t wav - | env -u AUDIOSEP_MODEL HOME=\(home) $BIN --engine dsp vocals")
        XCTAssertEqual(dsp.status, 0, dsp.stderr)
        XCTAssertTrue(dsp.stderr.isEmpty, "--engine dsp says nothing: \(dsp.stderr)")
        XCTAssertEqual(auto.stdout, dsp.stdout, "--engine auto without a model separates exactly as --engine dsp")
    }

    // MARK: - Separation and scoring

    /// `sox mix.wav -t wav - | audiosep-stream --engine dsp QUERY > out.wav`, channels averaged.
    func separate(_ query: String) throws -> [Float] {
        if let done = Self.separated[query] { return done }
        let output = "\(Self.folder)/out-\(query).wav"
        let run = try Harness.shell("sox \(Self.folder)/mix.wav -t wav - | $BIN --engine dsp \"\(query)\" > \(output)")
        guard run.status == 0 else { throw SongError.separation(query, run.stderr) }
        XCTAssertTrue(run.stderr.isEmpty, "\(query): \(run.stderr)")
        let audio = try Harness.readAudio(output)
        XCTAssertEqual(audio.rate, Self.rate)
        let mono = Self.mono(audio.channels)
        XCTAssertEqual(mono.count, Self.frames, "\(query): output as long as the input")
        Self.separated[query] = mono
        return mono
    }

    static func mono(_ channels: [[Float]]) -> [Float] {
        guard let first = channels.first else { return [] }
        if channels.count == 1 { return first }
        return first.indices.map { i in channels.reduce(0) { $0 + $1[i] } / Float(channels.count) }
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

    static func rms(_ x: [Float]) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))).squareRoot()
    }

    // MARK: - The song

    /// Makes the four stems with sox (-R: repeatable) and espeak-ng, sets their levels and mixes
    /// them with `sox -m -v`. 120 BPM: one 2-second bar (C major, A minor) repeated.
    static func makeSong() throws -> Song {
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let made = try Harness.shell("cd \(folder) && " + script)
        guard made.status == 0 else { throw SongError.sox(made.stderr) }
        var stems: [String: [Float]] = [:]
        var inputs: [String] = []
        for (stem, dB) in levels {
            let audio = try Harness.readAudio("\(folder)/\(stem).wav")
            let samples = audio.channels[0]
            guard samples.count == frames else { throw SongError.length(stem, samples.count) }
            let gain = pow(10, dB / 20) / rms(samples)
            inputs.append(String(format: "-v %.9f %@.wav", gain, stem))
            stems[stem] = samples
        }
        let mixed = try Harness.shell("cd \(folder) && sox -R -V1 -m \(inputs.joined(separator: " ")) -b 32 -e floating-point mix.wav")
        guard mixed.status == 0 else { throw SongError.sox(mixed.stderr) }
        let mixture = try Harness.readAudio("\(folder)/mix.wav").channels[0]
        // The targets as they are in the mixture: each stem at the gain sox applied.
        var targets: [String: [Float]] = [:]
        for (stem, dB) in levels {
            let samples = stems[stem]!
            let gain = Float(pow(10, dB / 20) / rms(samples))
            targets[stem] = samples.map { $0 * gain }
        }
        targets["accompaniment"] = zip(mixture, targets["voice"]!).map { $0 - $1 }
        return Song(mixture: mixture, targets: targets)
    }

    enum SongError: Error { case sox(String), length(String, Int), separation(String, String) }

    static let float = "-b 32 -e floating-point"

    /// A legato sung phrase: a sawtooth that sox's bend moves through the notes (semitones
    /// above `base`, 0.55 s each) with a 5.5 Hz, ±35-cent vibrato, through a vowel's formants.
    static func sung(_ file: String, base: Double, steps: [Int], formants: [(Int, Int)]) -> String {
        let noteSeconds = 0.55, half = 1 / (2 * 5.5), depth = 35
        let seconds = noteSeconds * Double(steps.count)
        var bends: [String] = [], note = 0, direction = -1
        for i in 0..<Int(seconds / half) {
            let start = Double(i) * half
            var cents = depth
            if i > 0 {
                cents = direction * 2 * depth
                direction = -direction
            }
            let k = Int((start + half) / noteSeconds)
            if k > 0, k < steps.count, steps[k] * 100 != note {
                cents += steps[k] * 100 - note
                note = steps[k] * 100
            }
            bends.append(String(format: "0,%d,%.5f", cents, half))
        }
        let eq = formants.map { "equalizer \($0.0) 3q \($0.1)" }.joined(separator: " ")
        let length = String(format: "%.4f", seconds)
        return "sox -R -r 44100 -c 1 -n \(float) \(file) synth \(length) sawtooth \(base) vol 0.1 bend -f 80 -o 32 "
            + bends.joined(separator: " ") + " \(eq) lowpass 4000 fade h 0.08 \(length) 0.2"
    }

    /// The shell script that writes voice.wav, chords.wav, drums.wav and bass.wav (7 s, mono, 44.1 kHz float).
    static var script: String {
        let length = String(seconds)
        var lines = ["set -e"]
        // Voice: speech (en+f3), a sung "a" phrase, speech (de), 0.3 s apart.
        lines.append("espeak-ng -v en+f3 -s 150 -p 50 -a 100 -w speech1-22k.wav \"She sells sea shells by the sea shore.\"")
        lines.append("espeak-ng -v de -s 150 -p 50 -a 100 -w speech2-22k.wav \"Guten Morgen, wie geht es dir heute?\"")
        lines.append("sox -R speech1-22k.wav -r 44100 \(float) part1.wav pad 0.3 0.3")
        lines.append(sung("part2.wav", base: 220, steps: [0, 2, 4, 7], formants: [(800, 12), (1200, 9), (2800, 6)]) + " pad 0 0.3")
        lines.append("sox -R speech2-22k.wav -r 44100 \(float) part3.wav")
        lines.append("sox -R part1.wav part2.wav part3.wav \(float) voice.wav pad 0 \(length) trim 0 \(length)")
        // Chords: per half bar, a pluck chord and a slow-attack sawtooth pad at 0.6.
        let chords = [("C4", "E4", "G4", "C3", "G3", "E4"), ("A3", "C4", "E4", "A2", "E3", "C4")]
        for (i, c) in chords.enumerated() {
            lines.append("sox -R -m -v 1 \"|sox -R -r 44100 -c 3 -n -c 1 -p synth 1 pluck \(c.0) pluck \(c.1) pluck \(c.2) remix - gain -3\" "
                + "-v 0.6 \"|sox -R -r 44100 -c 3 -n -c 1 -p synth 1 sawtooth \(c.3) sawtooth \(c.4) sawtooth \(c.5) remix - gain -6 lowpass 1800 fade q 0.35 1 0.12\" "
                + "\(float) half\(i).wav")
        }
        lines.append("sox -R half0.wav half1.wav \(float) chords.wav repeat 3 pad 0 \(length) trim 0 \(length)")
        // Drums: kick (sine 150→50 Hz, exponential decay), snare (pink noise + 185 Hz), hi-hat (white noise above 6 kHz).
        lines.append("sox -R -r 44100 -c 1 -n \(float) kick.wav synth 0.4 sine 150/50 gain -3 fade l 0 0.4 0.4")
        lines.append("sox -R -r 44100 -c 1 -n \(float) snare.wav synth 0.25 pinknoise synth 0.25 sine mix 185 gain -6 highpass 150 fade l 0 0.25 0.25")
        lines.append("sox -R -r 44100 -c 1 -n \(float) hat.wav synth 0.08 whitenoise gain -6 highpass 6000 fade l 0 0.08 0.08")
        var hits: [String] = []
        for (pattern, sample, gain) in [("x.....x.x.......", "kick", 1.0), ("....x.......x...", "snare", 0.8), ("x.x.x.x.x.x.x.x.", "hat", 0.35)] {
            for (step, c) in pattern.enumerated() where c == "x" {
                hits.append("-v \(gain) \"|sox \(sample).wav -p pad \(Double(step) * 0.125)\"")
            }
        }
        lines.append("sox -R -m \(hits.joined(separator: " ")) \(float) drumbar.wav pad 0 2 trim 0 2")
        lines.append("sox -R drumbar.wav \(float) drums.wav repeat 3 pad 0 \(length) trim 0 \(length)")
        // Bass: eighth notes, sawtooth through two 250 Hz low-passes.
        let notes = "C2 C2 C2 G2 A1 A1 A1 E2".split(separator: " ").map {
            "\"|sox -R -r 44100 -c 1 -n -p synth 0.25 sawtooth \($0) gain -6 lowpass 250 lowpass 250 fade h 0.005 0.25 0.04\""
        }
        lines.append("sox -R \(notes.joined(separator: " ")) \(float) bassbar.wav")
        lines.append("sox -R bassbar.wav \(float) bass.wav repeat 3 pad 0 \(length) trim 0 \(length)")
        return lines.map { $0.hasPrefix("sox ") ? "sox -V1 " + $0.dropFirst(4) : $0 }.joined(separator: "\n")
    }
}
