import COpenBLAS
import Foundation

/// The built-in engine: classical, training-free separation on each window's STFT, for machines
/// without the AudioSep model. Soft (Wiener-style) masks throughout, so complementary targets
/// (voice and accompaniment, percussion and harmonic) add back up to the mixture.
///
/// - Harmonic/percussive separation by median filtering across time and across frequency
///   (Fitzgerald 2010): percussion, and with band limits, bass and the tonal instruments.
/// - Repetition-based foreground/background separation in the REPET-SIM manner (Rafii & Pardo
///   2012): each frame's background is the median of the frames most like it; what does not
///   repeat is the voice. On stereo input, the voice must also sit in the centre.
public final class DSPEngine: MultichannelSeparator {
    public let name = "dsp"
    public let sampleRate: Int
    public let target: DSPTarget
    let stft: STFT

    /// Frames and bins of the median filters, at 44.1 kHz with hop 512.
    /// Chosen with tools/bench-quality: 31 frames (0.36 s) keeps decaying kicks out of the
    /// harmonic part; 5 bins (108 Hz) keeps the percussive median local.
    static let harmonicFrames = 31, percussiveBins = 5
    /// REPET-SIM: frames averaged for the background, and how far apart they must be (frames).
    static let similarFrames = 20, minimumDistanceFrames = 8

    public init(target: DSPTarget, sampleRate: Int = 44_100) {
        // One core by design (≥ 50× real time per channel); OpenBLAS's own threads would only spin.
        openblas_set_num_threads(1)
        self.target = target
        self.sampleRate = sampleRate
        self.stft = STFT(fftSize: 2048, hopSize: 512)
    }

    public convenience init(query: String) throws {
        self.init(target: try DSPTarget.parse(query))
    }

    public func separate(_ samples: [Float]) throws -> [Float] {
        let spectrum = analyse(samples)
        return synthesise(spectrum, mask: mask(spectrum.magnitude, frames: spectrum.frames, bins: stft.bins), length: samples.count)
    }

    /// A window's STFT (zero-padded to the STFT's minimum length) and its magnitudes.
    struct Spectrum {
        var real: [Float], imag: [Float], magnitude: [Float]
        let frames: Int, samples: Int
    }

    func analyse(_ samples: [Float]) -> Spectrum {
        let input = samples.count >= stft.minimumSamples ? samples : samples + [Float](repeating: 0, count: stft.minimumSamples - samples.count)
        let (real, imag) = stft.forward(input)
        var magnitude = [Float](repeating: 0, count: real.count)
        for index in real.indices { magnitude[index] = (real[index] * real[index] + imag[index] * imag[index]).squareRoot() }
        return Spectrum(real: real, imag: imag, magnitude: magnitude, frames: stft.frameCount(samples: input.count), samples: input.count)
    }

    /// The masked spectrum back to `length` samples.
    func synthesise(_ spectrum: Spectrum, mask: [Float], length: Int) -> [Float] {
        if length == 0 { return [] }
        var real = spectrum.real, imag = spectrum.imag
        for index in real.indices {
            real[index] *= mask[index]
            imag[index] *= mask[index]
        }
        let output = stft.inverse(real: real, imag: imag, frames: spectrum.frames, length: spectrum.samples)
        return length == output.count ? output : Array(output[0..<length])
    }

    /// Stereo windows for voice and accompaniment add the centre cue: a voice is usually panned to
    /// the middle, where left and right agree. Other targets and channel counts go channel by channel.
    public func separate(channels: [[Float]]) throws -> [[Float]] {
        guard channels.count == 2, target == .voice || target == .accompaniment,
              let length = channels.first?.count, length > 0 else { return try channels.map(separate) }
        let spectra = channels.map(analyse)
        let (l, r) = (spectra[0], spectra[1])
        // Centre weight: 2·Re(L·R̄) / (|L|² + |R|²), 1 where both sides agree, 0 for one side only.
        var centre = [Float](repeating: 0, count: l.real.count)
        for index in centre.indices {
            let dot = l.real[index] * r.real[index] + l.imag[index] * r.imag[index]
            let power = l.magnitude[index] * l.magnitude[index] + r.magnitude[index] * r.magnitude[index]
            centre[index] = power > 1e-20 ? max(0, 2 * dot / power) : 0
        }
        return spectra.map { spectrum in
            var voice = voiceMask(spectrum.magnitude, frames: spectrum.frames, bins: stft.bins)
            // Squared: chosen with tools/bench-quality --stereo (voice +2.0 dB, accompaniment +1.1 dB
            // over no centre cue; the plain weight gave +1.3 / +0.8).
            for index in voice.indices { voice[index] *= centre[index] * centre[index] }
            return synthesise(spectrum, mask: target == .voice ? voice : voice.map { 1 - $0 }, length: length)
        }
    }

    /// The voice's share of each cell on one channel: what does not repeat, within the voice's band.
    func voiceMask(_ magnitude: [Float], frames: Int, bins: Int) -> [Float] {
        let hz = Float(sampleRate) / Float(stft.fftSize)
        var voice = Self.repetitionForeground(magnitude, frames: frames, bins: bins)
        // The voice lives between about 80 Hz and 12 kHz; outside, everything is accompaniment.
        for frame in 0..<frames {
            for bin in 0..<bins {
                voice[frame * bins + bin] *= Self.band(Float(bin) * hz, low: 80, high: 12_000, taper: 40)
            }
        }
        return voice
    }

    /// The soft mask for this engine's target, `[frames × bins]`, values in [0, 1].
    func mask(_ magnitude: [Float], frames: Int, bins: Int) -> [Float] {
        let hz = Float(sampleRate) / Float(stft.fftSize)
        switch target {
        case .voice, .accompaniment:
            let voice = voiceMask(magnitude, frames: frames, bins: bins)
            return target == .voice ? voice : voice.map { 1 - $0 }
        case .percussion, .bass, .harmonic:
            let harmonic = Self.harmonicMask(magnitude, frames: frames, bins: bins)
            switch target {
            case .percussion:
                // Drum patterns repeat where a voice's consonants do not: keep the repeating share
                // of the percussive part (+2.8 dB on tools/bench-quality's songs).
                let voice = Self.repetitionForeground(magnitude, frames: frames, bins: bins)
                return (0..<(frames * bins)).map { (1 - harmonic[$0]) * (1 - voice[$0]) }
            case .bass:
                return (0..<(frames * bins)).map { harmonic[$0] * Self.band(Float($0 % bins) * hz, low: 0, high: 250, taper: 60) }
            default:
                // Tonal instruments repeat where a voice does not: keep the harmonic part's repeating
                // share (+5 dB on tools/bench-quality's songs).
                let voice = Self.repetitionForeground(magnitude, frames: frames, bins: bins)
                return (0..<(frames * bins)).map { harmonic[$0] * (1 - voice[$0]) * Self.band(Float($0 % bins) * hz, low: 250, high: 20_000, taper: 60) }
            }
        }
    }

    /// A smooth band-pass weight: 1 inside [low, high], raised-cosine tapers `taper` hz wide outside.
    static func band(_ frequency: Float, low: Float, high: Float, taper: Float) -> Float {
        if frequency < low - taper || frequency > high + taper { return 0 }
        if frequency < low { return 0.5 - 0.5 * cos(Float.pi * (frequency - (low - taper)) / taper) }
        if frequency > high { return 0.5 + 0.5 * cos(Float.pi * (frequency - high) / taper) }
        return 1
    }

    /// Harmonic share of each cell: H² / (H² + P²), H the median across time, P across frequency.
    static func harmonicMask(_ magnitude: [Float], frames: Int, bins: Int) -> [Float] {
        let harmonic = MedianFilter.alongFrames(magnitude, frames: frames, bins: bins, width: harmonicFrames)
        let percussive = MedianFilter.alongBins(magnitude, frames: frames, bins: bins, width: percussiveBins)
        return (0..<magnitude.count).map { index in
            let h = harmonic[index] * harmonic[index], p = percussive[index] * percussive[index]
            return h + p > 1e-20 ? h / (h + p) : 0.5
        }
    }

    /// REPET-SIM's foreground share of each cell: 1 − min(background, mixture) / mixture, where the
    /// background of a frame is the per-bin median of the frames most similar to it (cosine
    /// similarity of magnitude spectra), those frames at least `minimumDistanceFrames` apart.
    static func repetitionForeground(_ magnitude: [Float], frames: Int, bins: Int) -> [Float] {
        // Cosine similarity of every pair of frames: one sgemm on unit-normalised spectra.
        var unit = magnitude
        for frame in 0..<frames {
            var norm: Float = 0
            for bin in 0..<bins { norm += unit[frame * bins + bin] * unit[frame * bins + bin] }
            let scale = norm > 0 ? 1 / norm.squareRoot() : 0
            for bin in 0..<bins { unit[frame * bins + bin] *= scale }
        }
        var similarity = [Float](repeating: 0, count: frames * frames)
        unit.withUnsafeBufferPointer { u in
            similarity.withUnsafeMutableBufferPointer { s in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(frames), Int32(frames), Int32(bins),
                            1, u.baseAddress, Int32(bins), u.baseAddress, Int32(bins), 0, s.baseAddress, Int32(frames))
            }
        }
        var foreground = [Float](repeating: 0, count: frames * bins)
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: (similarFrames + 1) * bins)
        defer { rows.deallocate() }
        var order = [Int](repeating: 0, count: frames)
        magnitude.withUnsafeBufferPointer { m in
            for frame in 0..<frames {
                // The most similar frames, greedily, keeping them apart from each other and from this one.
                // Candidates: the frames at least as similar as the 4·K-th most similar, best first
                // (a full sort of every frame costs more than the rest of REPET together).
                let row = Array(similarity[(frame * frames)..<((frame + 1) * frames)])
                var scratch = row
                let keep = min(frames, 4 * (similarFrames + 1))
                let threshold = MedianFilter.kthLargest(&scratch, k: keep)
                var candidates = 0
                for index in 0..<frames where row[index] >= threshold && candidates < frames { order[candidates] = index; candidates += 1 }
                order[0..<candidates].sort { row[$0] > row[$1] }
                var chosen: [Int] = [frame]
                for candidate in order[0..<candidates] where chosen.count <= similarFrames {
                    if chosen.allSatisfy({ abs($0 - candidate) >= minimumDistanceFrames }) { chosen.append(candidate) }
                }
                // Per-bin median across the chosen frames: sort the rows elementwise with an odd-even
                // transposition network (min/max over whole rows, which the compiler vectorises).
                let count = chosen.count
                for (index, other) in chosen.enumerated() { (rows + index * bins).update(from: m.baseAddress! + other * bins, count: bins) }
                for pass in 0..<count {
                    var first = pass % 2
                    while first + 1 < count {
                        let a = rows + first * bins, b = a + bins
                        for bin in 0..<bins {
                            let low = min(a[bin], b[bin]), high = max(a[bin], b[bin])
                            a[bin] = low
                            b[bin] = high
                        }
                        first += 2
                    }
                }
                let background = rows + (count / 2) * bins
                for bin in 0..<bins {
                    let mixture = m[frame * bins + bin]
                    foreground[frame * bins + bin] = mixture > 1e-10 ? 1 - min(background[bin], mixture) / mixture : 0
                }
            }
        }
        return foreground
    }
}
