import Foundation
import Stream

/// A deterministic stand-in for music when the user gives no file: a sung-like line (a
/// gliding harmonic tone with vibrato, in phrases), a drum loop (kick and hi-hat) and a
/// repeating chord, panned apart, at 44.1 kHz. Every engine has something to separate in it.
public enum TestSignal {
    public static let sampleRate = 44_100

    /// The mixture, planar, `channels` channels (the voice centred, drums left of centre,
    /// chords right of centre).
    public static func make(seconds: Double, channels: Int) -> [[Float]] {
        let frames = max(1, Int(seconds * Double(sampleRate)))
        let rate = Double(sampleRate)
        var voice = [Float](repeating: 0, count: frames)
        var drums = [Float](repeating: 0, count: frames)
        var chords = [Float](repeating: 0, count: frames)
        var noise: UInt64 = 0x9E37_79B9_7F4A_7C15

        // Voice: 2.4 s phrases of four notes with 0.4 s rests; five harmonics, 5.5 Hz vibrato.
        let melody: [Double] = [220, 247, 262, 294, 330, 294, 262, 247, 196, 220, 262, 330]
        var phase = 0.0
        for frame in 0..<frames {
            let time = Double(frame) / rate
            let phrase = time.truncatingRemainder(dividingBy: 2.8)
            guard phrase < 2.4 else { continue }
            let noteIndex = (Int(time / 2.8) * 4 + Int(phrase / 0.6)) % melody.count
            let vibrato = 1 + 0.012 * sin(2 * .pi * 5.5 * time)
            phase += 2 * .pi * melody[noteIndex] * vibrato / rate
            let noteTime = phrase.truncatingRemainder(dividingBy: 0.6)
            let envelope = min(1, noteTime / 0.04) * min(1, (0.6 - noteTime) / 0.08)
            var sample = 0.0
            for harmonic in 1...5 { sample += sin(Double(harmonic) * phase) / Double(harmonic * harmonic) }
            voice[frame] = Float(0.3 * envelope * sample)
        }
        // Drums: kick on beats 1 and 3, hi-hat on every eighth, 120 bpm.
        for frame in 0..<frames {
            let time = Double(frame) / rate
            let beat = time.truncatingRemainder(dividingBy: 1.0)
            let eighth = time.truncatingRemainder(dividingBy: 0.25)
            var sample = 0.0
            if beat < 0.25 {
                let sweep = 50 + 90 * exp(-beat * 30)
                sample += 0.6 * exp(-beat * 14) * sin(2 * .pi * sweep * beat)
            }
            noise = noise &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let white = Double(Int64(bitPattern: noise) >> 11) / Double(1 << 52)
            sample += 0.12 * exp(-eighth * 60) * white
            drums[frame] = Float(sample)
        }
        // Chords: C, A minor, F, G, two seconds each, looping.
        let progression: [[Double]] = [[130.8, 164.8, 196.0], [110.0, 130.8, 164.8], [87.3, 110.0, 130.8], [98.0, 123.5, 146.8]]
        for frame in 0..<frames {
            let time = Double(frame) / rate
            let chord = progression[Int(time / 2) % progression.count]
            let local = time.truncatingRemainder(dividingBy: 2)
            let envelope = min(1, local / 0.01) * exp(-local * 1.2)
            var sample = 0.0
            for pitch in chord { sample += sin(2 * .pi * pitch * time) + 0.3 * sin(4 * .pi * pitch * time) }
            chords[frame] = Float(0.09 * envelope * sample)
        }

        // Scaled so the loudest channel peaks near -3 dBFS (checked over 60 s in the tests).
        let level: Float = 0.62
        guard channels > 1 else { return [zip(voice, zip(drums, chords)).map { level * ($0 + $1.0 + $1.1) }] }
        return (0..<channels).map { channel in
            let pan = channels == 1 ? 0.5 : Double(channel) / Double(channels - 1)  // 0 = left, 1 = right
            let drumGain = Float(1.3 - 0.6 * pan), chordGain = Float(0.7 + 0.6 * pan)
            return (0..<frames).map { level * (voice[$0] + drumGain * drums[$0] + chordGain * chords[$0]) }
        }
    }

    /// Writes the mixture as a 32-bit float WAV file.
    public static func write(to path: String, seconds: Double, channels: Int) throws {
        try TuneAudio.writeWAV(make(seconds: seconds, channels: channels), sampleRate: sampleRate, to: path)
    }
}

/// The tuner's audio files: float WAV in, float WAV out, compared sample by sample.
public enum TuneAudio {
    public static func writeWAV(_ planar: [[Float]], sampleRate: Int, to path: String) throws {
        let format = try SampleFormat(encoding: .floatingPoint, bits: 32)
        let frames = planar.first?.count ?? 0
        let sink = try WAVSink(output: try OutputFile(path: path), sampleRate: sampleRate,
                               channelCount: planar.count, format: format, expectedFrames: frames)
        var start = 0
        while start < frames {
            let end = min(frames, start + 65_536)
            try sink.write(planar.map { Array($0[start..<end]) })
            start = end
        }
        try sink.finish()
    }

    /// Copies at most `seconds` of any file libsndfile reads into a float WAV; returns its description.
    public static func excerpt(from source: String, seconds: Double, to path: String) throws -> InputDescription {
        let input = try SndfileSource(.path(source))
        let description = input.description
        let limit = Int(seconds * Double(description.sampleRate))
        let format = try SampleFormat(encoding: .floatingPoint, bits: 32)
        let sink = try WAVSink(output: try OutputFile(path: path), sampleRate: description.sampleRate,
                               channelCount: description.channelCount, format: format,
                               expectedFrames: description.knownFrames.map { min($0, limit) })
        var copied = 0
        while copied < limit {
            let block: [[Float]]
            do {
                block = try input.read(maxFrames: min(65_536, limit - copied))
            } catch StreamError.emptyInput where copied > 0 {
                break
            }
            guard let frames = block.first?.count, frames > 0 else { break }
            try sink.write(block)
            copied += frames
        }
        try sink.finish()
        return description
    }

    /// SNR of `test` against `reference` over all channels, in dB; nil when they are identical.
    /// Both are read in blocks, so long files take no memory.
    public static func snr(test: String, reference: String) throws -> (snr: Double?, frames: Int, referenceFrames: Int) {
        let a = try SndfileSource(.path(test)), b = try SndfileSource(.path(reference))
        var signal = 0.0, noise = 0.0
        var framesA = 0, framesB = 0
        var pendingA: [[Float]] = [], pendingB: [[Float]] = []
        func next(_ source: SndfileSource) throws -> [[Float]] {
            do { return try source.read(maxFrames: 65_536) } catch StreamError.emptyInput { return [] }
        }
        while true {
            if pendingA.first?.isEmpty ?? true { pendingA = try next(a); framesA += pendingA.first?.count ?? 0 }
            if pendingB.first?.isEmpty ?? true { pendingB = try next(b); framesB += pendingB.first?.count ?? 0 }
            let common = min(pendingA.first?.count ?? 0, pendingB.first?.count ?? 0)
            if common == 0 { break }
            for channel in 0..<min(pendingA.count, pendingB.count) {
                for index in 0..<common {
                    let want = Double(pendingB[channel][index]), got = Double(pendingA[channel][index])
                    signal += want * want
                    noise += (got - want) * (got - want)
                }
            }
            pendingA = pendingA.map { Array($0[common...]) }
            pendingB = pendingB.map { Array($0[common...]) }
        }
        // Count what is left on either side.
        while let more = try? next(a), let frames = more.first?.count, frames > 0 { framesA += frames }
        while let more = try? next(b), let frames = more.first?.count, frames > 0 { framesB += frames }
        let value: Double? = noise == 0 ? nil : 10 * log10(max(signal, 1e-30) / noise)
        return (value, framesA, framesB)
    }
}
