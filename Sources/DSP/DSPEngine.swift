import COpenBLAS
import Foundation
import Separation
import Spectrum

/// The built-in engine: classical, training-free separation on each window's STFT, for machines
/// without the AudioSep model. Soft (Wiener-style) masks throughout, so complementary targets
/// (voice and accompaniment) add back up to the mixture.
///
/// - Voice and accompaniment: repetition (Rafii & Pardo). What repeats is accompaniment, what
///   does not is voice. The background of each cell is the mean of two estimates: REPET's (the
///   median, across the window's periods, of the cell at the same place in the period, the period
///   found from the beat spectrum) and REPET-SIM's (the median over the frames most like this one).
///   On stereo input, the voice must also sit in the centre.
/// - Percussion, bass and the tonal instruments: harmonic/percussive separation by median
///   filtering across time and across frequency (Fitzgerald 2010) on a long (8192-point) STFT,
///   whose 5.4 Hz bins resolve the partials of low notes, refined by kernel backfitting (Liutkus
///   et al. 2014: each part's median is taken again on its own Wiener estimate); bass and the
///   tonal instruments are the harmonic part below and above a crossover. A comb on the bass
///   line's partials (its pitch searched frame by frame on the harmonic low band) then decides the
///   low cells the crossover cannot: on the comb they are bass, off it a kick's body or a chord's
///   low notes. Percussion also takes most of the steady highs (a cymbal's ring) above 3 kHz.
///
/// Every constant below was chosen on the tuning split of `tools/make-corpus` and is reported on
/// its test split by `tools/bench-quality`.
public final class DSPEngine: Separator {
    public let name = "dsp"
    public let sampleRate: Int
    public let target: DSPTarget
    /// The voice's STFT: 2048 points every 512 (46 ms frames every 11.6 ms at 44.1 kHz).
    let stft: STFT
    /// The harmonic/percussive STFT: 8192 points every 1024 (every 2048 for percussion).
    let wideSTFT: STFT

    /// REPET-SIM: frames whose median is a frame's background, and how far apart they must be.
    static let similarFrames = 40, minimumDistanceFrames = 40
    /// REPET: the shortest period searched (seconds); the longest is a third of the window.
    static let shortestPeriodSeconds = 1.0

    /// Median widths on the wide STFT (frames every 23 ms, 46 ms for percussion; bins of 5.4 Hz)
    /// and backfitting passes.
    struct Filtering {
        let frames: Int, bins: Int, passes: Int
    }

    static func filtering(for target: DSPTarget) -> Filtering {
        switch target {
        case .percussion: return Filtering(frames: 15, bins: 17, passes: 2)
        case .bass: return Filtering(frames: 21, bins: 17, passes: 1)
        default: return Filtering(frames: 15, bins: 17, passes: 2)
        }
    }

    public init(target: DSPTarget, sampleRate: Int = 44_100) {
        // One core by design; OpenBLAS's own threads would only spin.
        openblas_set_num_threads(1)
        self.target = target
        self.sampleRate = sampleRate
        self.stft = STFT(fftSize: 2048, hopSize: 512)
        self.wideSTFT = STFT(fftSize: 8192, hopSize: target == .percussion ? 2048 : 1024)
    }

    /// The engine for a query in words ("vocals", "no drums"); `reading` says what it understood.
    public convenience init(query: String) throws {
        let reading = try DSPQuery(parsing: query)
        self.init(target: reading.target)
        self.asksForRest = reading.rest
        self.reading = "'\(query)' → \(reading)"
    }

    /// True when the query asked for everything but the target ("no drums"): the run writes the rest.
    public private(set) var asksForRest = false
    public var stemsAskForRest: [Bool] { [asksForRest] }
    /// What the query was read as ("'no vocals' → accompaniment"); nil for an engine built from a target.
    public private(set) var reading: String?
    /// The line for stderr that says it ("built-in engine: 'no vocals' → accompaniment").
    public var note: String? { reading.map { "built-in engine: " + $0 } }

    /// Repetition needs several periods of the music in one window: 30 s holds a dozen bars.
    public var defaultChunkSeconds: Double { 30 }

    /// Voice and accompaniment: REPET-SIM takes each frame's background from `similarFrames`
    /// frames at least `minimumDistanceFrames` apart, which span similarFrames × minimumDistanceFrames
    /// frames of the voice's STFT (1600 × 11.6 ms = 18.6 s at 44.1 kHz); a shorter window holds
    /// fewer such frames and a shakier median. Measured once (an ad hoc 90 s mixture of espeak-ng
    /// speech over a 1 s drum loop and an 8 s chord loop, not in the repository): the voice's SNR
    /// gain over the mixture is 7.6 dB at 1 s, 11.2 at 8 s, 12.5 at 16 s and 13.7 at 30 s.
    /// The other targets: the time median spans `filtering.frames` hops of the wide STFT (0.35 s,
    /// 0.49 s for bass, 0.70 s for percussion); in a window under four spans (1.4 to 2.8 s) most
    /// frames are within a span of an edge, where the median sees a truncated neighbourhood.
    /// Measured on the same mixture, the drums' SNR gain is the same from 1 s to 100 s (4.0 dB).
    public var shortestUsefulChunkSeconds: Double {
        let seconds: Double
        if usesWideTransform {
            let span = Self.filtering(for: target).frames * wideSTFT.hopSize
            seconds = Double(4 * span) / Double(sampleRate)
        } else {
            seconds = Double(Self.similarFrames * Self.minimumDistanceFrames * stft.hopSize) / Double(sampleRate)
        }
        return (seconds * 10).rounded(.up) / 10
    }

    var usesWideTransform: Bool { !(target == .voice || target == .accompaniment) }

    /// The STFT this engine's masks are made on.
    var transform: STFT { usesWideTransform ? wideSTFT : stft }

    public func separate(channels: [[Float]]) throws -> [[[Float]]] {
        [separate(channels: channels, spectra: channels.map { analyse($0, transform) })]
    }

    /// A window's STFT (zero-padded to the STFT's minimum length) and its magnitudes.
    struct Spectrum {
        var real: [Float], imag: [Float], magnitude: [Float]
        let frames: Int, samples: Int
    }

    func analyse(_ samples: [Float], _ transform: STFT) -> Spectrum {
        let input = samples.count >= transform.minimumSamples
            ? samples : samples + [Float](repeating: 0, count: transform.minimumSamples - samples.count)
        let (real, imag) = transform.forward(input)
        var magnitude = [Float](repeating: 0, count: real.count)
        for index in real.indices { magnitude[index] = (real[index] * real[index] + imag[index] * imag[index]).squareRoot() }
        return Spectrum(real: real, imag: imag, magnitude: magnitude, frames: transform.frameCount(samples: input.count),
                        samples: input.count)
    }

    /// The masked spectrum back to `length` samples.
    func synthesise(_ spectrum: Spectrum, _ transform: STFT, mask: [Float], length: Int) -> [Float] {
        if length == 0 { return [] }
        var real = spectrum.real, imag = spectrum.imag
        for index in real.indices {
            real[index] *= mask[index]
            imag[index] *= mask[index]
        }
        let output = transform.inverse(real: real, imag: imag, frames: spectrum.frames, length: spectrum.samples)
        return length == output.count ? output : Array(output[0..<length])
    }

    /// Whether this engine separates a window of `channels` channels jointly (stereo voice and
    /// accompaniment, with the centre cue) rather than channel by channel.
    func isJoint(channels: Int) -> Bool { channels == 2 && (target == .voice || target == .accompaniment) }

    /// The window's channels from their spectra on `transform` (computed once for every stem
    /// that shares the transform), synthesised with `inverse` (an STFT of the same shape: one
    /// no other thread uses meanwhile). Stereo windows for voice and accompaniment add the centre
    /// cue: a voice is usually panned to the middle, where left and right agree. Other targets and
    /// channel counts go channel by channel.
    func separate(channels: [[Float]], spectra: [Spectrum], inverse: STFT? = nil) -> [[Float]] {
        guard isJoint(channels: channels.count), let length = channels.first?.count, length > 0 else {
            return zip(channels, spectra).map { separate(channel: $0, spectrum: $1, inverse: inverse) }
        }
        let centre = Self.centre(spectra[0], spectra[1])
        return spectra.map { separate(centred: $0, centre: centre, length: length, inverse: inverse) }
    }

    /// Centre weight of each cell of a stereo window: 2·Re(L·R̄) / (|L|² + |R|²), 1 where both
    /// sides agree, 0 for one side only.
    static func centre(_ l: Spectrum, _ r: Spectrum) -> [Float] {
        var centre = [Float](repeating: 0, count: l.real.count)
        for index in centre.indices {
            let dot = l.real[index] * r.real[index] + l.imag[index] * r.imag[index]
            let power = l.magnitude[index] * l.magnitude[index] + r.magnitude[index] * r.magnitude[index]
            centre[index] = power > 1e-20 ? max(0, 2 * dot / power) : 0
        }
        return centre
    }

    /// One channel of a stereo voice or accompaniment window, its voice weighted by `centre`
    /// (`centre(_:_:)` of the window's two spectra).
    func separate(centred spectrum: Spectrum, centre: [Float], length: Int, inverse: STFT? = nil) -> [Float] {
        var voice = voiceMask(spectrum.magnitude, frames: spectrum.frames, bins: stft.bins)
        // Squared: a side-panned instrument keeps some agreement between the channels.
        for index in voice.indices { voice[index] *= centre[index] * centre[index] }
        return synthesise(spectrum, inverse ?? stft, mask: target == .voice ? voice : voice.map { 1 - $0 }, length: length)
    }

    /// One channel on its own, from its spectrum on `transform`.
    func separate(channel samples: [Float], spectrum: Spectrum, inverse: STFT? = nil) -> [Float] {
        synthesise(spectrum, inverse ?? transform, mask: mask(spectrum.magnitude, frames: spectrum.frames, bins: transform.bins),
                   length: samples.count)
    }

    /// The voice's share of each cell on one channel: what does not repeat, within the voice's band.
    func voiceMask(_ magnitude: [Float], frames: Int, bins: Int) -> [Float] {
        let hz = Float(sampleRate) / Float(stft.fftSize)
        let similarity = Self.similarity(magnitude, frames: frames, bins: bins)
        let similar = Self.similarityBackground(magnitude, frames: frames, bins: bins, similarity: similarity)
        let periodic = Self.period(similarity: similarity, frames: frames, hopSeconds: Double(stft.hopSize) / Double(sampleRate))
            .map { Self.periodicBackground(magnitude, frames: frames, bins: bins, period: $0) }
        // The voice lives between about 80 Hz and 12 kHz; outside, everything is accompaniment.
        let voiceBand = Self.band(bins: bins, hz: hz, low: 80, high: 12_000, taper: 40)
        var voice = [Float](repeating: 0, count: frames * bins)
        for frame in 0..<frames {
            for bin in 0..<bins {
                let index = frame * bins + bin
                let mixture = magnitude[index]
                guard mixture > 1e-10 else { continue }
                let background = periodic.map { 0.5 * ($0[index] + similar[index]) } ?? similar[index]
                voice[index] = (1 - min(background, mixture) / mixture) * voiceBand[bin]
            }
        }
        return voice
    }

    /// The soft mask for this engine's target, `[frames × bins]`, values in [0, 1].
    func mask(_ magnitude: [Float], frames: Int, bins: Int) -> [Float] {
        switch target {
        case .voice, .accompaniment:
            let voice = voiceMask(magnitude, frames: frames, bins: bins)
            return target == .voice ? voice : voice.map { 1 - $0 }
        case .percussion, .bass, .harmonic:
            let hz = Float(sampleRate) / Float(wideSTFT.fftSize)
            let harmonic = Self.harmonicShare(magnitude, frames: frames, bins: bins, filtering: Self.filtering(for: target))
            // The bass's harmonic low band: the bass mask without its comb, and where its pitch is searched.
            let low = Self.band(bins: bins, hz: hz, low: 0, high: Self.bassBand.high, taper: Self.bassBand.taper)
            let bassShare = (0..<(frames * bins)).map { harmonic[$0] * harmonic[$0] * low[$0 % bins] }
            let comb = Self.bassLineComb(bassShare: bassShare, magnitude: magnitude, frames: frames, bins: bins, hz: hz,
                                         upTo: Self.combReach(for: target))
            switch target {
            case .percussion:
                // A kick's body is as steady as a note for a 186 ms frame; below 100 Hz, only the
                // bass line's partials keep their whole harmonic share, the rest 30% of it. A
                // cymbal's ring is as steady too; above 3 kHz (fully from 5 kHz), where the tonal
                // instruments have little left, a quarter of the harmonic share is kept.
                let kick = Self.band(bins: bins, hz: hz, low: 0, high: Self.kickBand.high, taper: Self.kickBand.taper)
                let ring = Self.band(bins: bins, hz: hz, low: 0, high: 3_000, taper: 2_000)
                return (0..<(frames * bins)).map { index in
                    let weight = kick[index % bins], kept = 1 - 0.75 * (1 - ring[index % bins])
                    return 1 - harmonic[index] * kept * (1 - weight + weight * (0.3 + 0.7 * comb[index]))
                }
            case .bass:
                // Squared: a low note's onset is partly percussive, a kick's tail partly harmonic.
                // Within the band, the cells between the bass line's partials (a kick's body, a
                // pad's low notes off the bass's pitch) keep only a fifth of their share.
                return (0..<(frames * bins)).map { bassShare[$0] * (0.2 + 0.8 * comb[$0]) }
            default:
                // Above the crossover, the harmonic part; below it, 40% of what is off the bass
                // line's partials (the low notes of chords and pads).
                let high = Self.band(bins: bins, hz: hz, low: Self.tonalCrossover.low, high: 20_000, taper: Self.tonalCrossover.taper)
                return (0..<(frames * bins)).map { index in
                    let weight = high[index % bins]
                    return harmonic[index] * (weight + (1 - weight) * 0.4 * (1 - comb[index]))
                }
            }
        }
    }

    /// The bands the comb works in (Hz): the bass's (0 to `high`, tapering over `taper`), the
    /// kick's that percussion takes back, and the tonal instruments' crossover.
    static let bassBand = (high: Float(200), taper: Float(200))
    static let kickBand = (high: Float(100), taper: Float(100))
    static let tonalCrossover = (low: Float(220), taper: Float(80))

    /// How high (Hz) each target needs the bass line's comb: where the band it weights ends.
    static func combReach(for target: DSPTarget) -> Float {
        switch target {
        case .percussion: return kickBand.high + kickBand.taper
        case .harmonic: return tonalCrossover.low
        default: return bassBand.high + bassBand.taper
        }
    }

    /// The bass line's comb, `[frames × bins]`: in each frame, 1 on the partials of the bass
    /// line's pitch, falling to 0 `width` bins away, up to `upTo` Hz (0 above). The pitch is
    /// searched on `bassShare`, the bass's harmonic low band H² · band(bassBand).
    static func bassLineComb(bassShare: [Float], magnitude: [Float], frames: Int, bins: Int, hz: Float, upTo: Float) -> [Float] {
        let pitches = bassPitches(mask: bassShare, magnitude: magnitude, frames: frames, bins: bins, hz: hz)
        var comb = [Float](repeating: 0, count: frames * bins)
        for frame in 0..<frames {
            let teeth = Self.comb(pitch: pitches[frame], bins: bins, hz: hz, upTo: upTo)
            for bin in 0..<teeth.count { comb[frame * bins + bin] = teeth[bin] }
        }
        return comb
    }

    /// The bass line's pitch search and comb: candidate fundamentals from `lowest` to `highest` Hz
    /// in half-bin steps, scored by their first `partials` partials (each weighted `decay` times
    /// the one below) on the log-compressed harmonic low band (up to `searchTop` Hz); teeth
    /// `width` bins wide (triangular) at every partial.
    static let bassComb = (lowest: Float(30), highest: Float(260), partials: 6, decay: Float(0.8),
                           searchTop: Float(400), width: Float(3))

    /// Each frame's bass fundamental (Hz): the candidate whose partials hold the most of the
    /// bass mask's energy (`mask · |X|` below `searchTop`, compressed as log(1 + 1000·x / max)
    /// so that a loud low partial does not outvote the series).
    static func bassPitches(mask: [Float], magnitude: [Float], frames: Int, bins: Int, hz: Float) -> [Float] {
        let search = bassComb
        let top = min(bins, Int((search.searchTop / hz).rounded(.up)))
        var peak: Float = 0
        for frame in 0..<frames { for bin in 0..<top { peak = max(peak, mask[frame * bins + bin] * magnitude[frame * bins + bin]) } }
        var candidates = [Float]()
        var candidate = search.lowest
        while candidate < search.highest { candidates.append(candidate); candidate += hz / 2 }
        var pitches = [Float](repeating: candidates[0], count: frames)
        guard peak > 0 else { return pitches }
        var compressed = [Float](repeating: 0, count: top)
        for frame in 0..<frames {
            for bin in 0..<top {
                compressed[bin] = log1p(1000 * mask[frame * bins + bin] * magnitude[frame * bins + bin] / peak)
            }
            var best = -Float.infinity
            for pitch in candidates {
                var score: Float = 0, weight: Float = 1
                for partial in 1...search.partials {
                    // The strongest of the four bins around the partial.
                    let centre = Int((Float(partial) * pitch / hz).rounded(.down))
                    var strongest: Float = 0
                    for bin in max(0, centre - 1)...(centre + 2) where bin < top { strongest = max(strongest, compressed[bin]) }
                    score += weight * strongest
                    weight *= search.decay
                }
                if score > best { best = score; pitches[frame] = pitch }
            }
        }
        return pitches
    }

    /// The comb of one frame's bass line, for the bins below `upTo` Hz: 1 on each partial of
    /// `pitch`, falling linearly to 0 `width` bins away.
    static func comb(pitch: Float, bins: Int, hz: Float, upTo: Float) -> [Float] {
        let count = min(bins, Int((upTo / hz).rounded(.up)))
        let width = bassComb.width
        return (0..<count).map { bin in
            let position = Float(bin) * hz / pitch
            // Distance in bins to the nearest partial (the fundamental is the lowest tooth).
            let distance = position < 1 ? (pitch - Float(bin) * hz) / hz : abs(position - position.rounded()) * pitch / hz
            return max(0, 1 - distance / width)
        }
    }

    /// A smooth band-pass weight: 1 inside [low, high], raised-cosine tapers `taper` hz wide outside.
    static func band(_ frequency: Float, low: Float, high: Float, taper: Float) -> Float {
        if frequency < low - taper || frequency > high + taper { return 0 }
        if frequency < low { return 0.5 - 0.5 * cos(Float.pi * (frequency - (low - taper)) / taper) }
        if frequency > high { return 0.5 + 0.5 * cos(Float.pi * (frequency - high) / taper) }
        return 1
    }

    /// The band-pass weight of every bin, `hz` apart.
    static func band(bins: Int, hz: Float, low: Float, high: Float, taper: Float) -> [Float] {
        (0..<bins).map { band(Float($0) * hz, low: low, high: high, taper: taper) }
    }

    /// Harmonic share of each cell, H² / (H² + P²), H the median across time and P across
    /// frequency. Each further pass takes the medians again on the parts' own estimates
    /// (√share · |X| and √(1 − share) · |X|), which sharpens the split where both overlap.
    static func harmonicShare(_ magnitude: [Float], frames: Int, bins: Int, filtering: Filtering) -> [Float] {
        var share = [Float](repeating: 0.5, count: magnitude.count)
        var harmonicPart = magnitude, percussivePart = magnitude
        for pass in 0..<filtering.passes {
            if pass > 0 {
                for index in magnitude.indices {
                    harmonicPart[index] = share[index].squareRoot() * magnitude[index]
                    percussivePart[index] = (1 - share[index]).squareRoot() * magnitude[index]
                }
            }
            let harmonic = MedianFilter.alongFrames(harmonicPart, frames: frames, bins: bins, width: filtering.frames)
            let percussive = MedianFilter.alongBins(percussivePart, frames: frames, bins: bins, width: filtering.bins)
            for index in magnitude.indices {
                let h = harmonic[index] * harmonic[index], p = percussive[index] * percussive[index]
                share[index] = h + p > 1e-20 ? h / (h + p) : 0.5
            }
        }
        return share
    }

    /// REPET's repeating period, in frames: the lag, between the shortest period and a third of
    /// the window, where the beat spectrum peaks. The beat spectrum here is the mean, over the
    /// window, of the cosine similarity between frames `lag` apart: the sums along the diagonals
    /// of the similarity matrix REPET-SIM uses anyway. `nil` when the window is too short to hold
    /// three periods.
    static func period(similarity: [Float], frames: Int, hopSeconds: Double) -> Int? {
        let shortest = Int(shortestPeriodSeconds / hopSeconds), longest = frames / 3
        guard longest > shortest else { return nil }
        var best = shortest, bestScore = -Double.infinity
        for lag in shortest..<longest {
            var sum = 0.0
            for frame in 0..<(frames - lag) { sum += Double(similarity[frame * frames + frame + lag]) }
            let score = sum / Double(frames - lag)
            if score > bestScore { bestScore = score; best = lag }
        }
        return best
    }

    /// REPET's background: each cell's median over the same place in every period of the window,
    /// no more than the mixture.
    static func periodicBackground(_ magnitude: [Float], frames: Int, bins: Int, period: Int) -> [Float] {
        var background = [Float](repeating: 0, count: frames * bins)
        let segments = (frames + period - 1) / period
        var values = [Float](repeating: 0, count: segments)
        var model = [Float](repeating: 0, count: bins)
        for offset in 0..<period {
            for bin in 0..<bins {
                var count = 0
                var frame = offset
                while frame < frames { values[count] = magnitude[frame * bins + bin]; count += 1; frame += period }
                model[bin] = MedianFilter.centralMedian(&values, count: count)
            }
            var frame = offset
            while frame < frames {
                for bin in 0..<bins { background[frame * bins + bin] = min(model[bin], magnitude[frame * bins + bin]) }
                frame += period
            }
        }
        return background
    }

    /// Cosine similarity of every pair of frames, `[frames × frames]`: one symmetric rank-k
    /// product on unit-normalised spectra (the upper triangle), mirrored.
    static func similarity(_ magnitude: [Float], frames: Int, bins: Int) -> [Float] {
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
                cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(frames), Int32(bins),
                            1, u.baseAddress, Int32(bins), 0, s.baseAddress, Int32(frames))
                for row in 0..<frames { for column in 0..<row { s[row * frames + column] = s[column * frames + row] } }
            }
        }
        return similarity
    }

    /// REPET-SIM's background: each cell's median over the frames most like its own (cosine
    /// similarity of magnitude spectra), those frames at least `minimumDistanceFrames` apart, no
    /// more than the mixture.
    static func similarityBackground(_ magnitude: [Float], frames: Int, bins: Int, similarity: [Float]) -> [Float] {
        var background = [Float](repeating: 0, count: frames * bins)
        var order = [Int](repeating: 0, count: frames)
        var chosen = [Int]()
        chosen.reserveCapacity(similarFrames + 1)
        var networks = MedianNetworks(averagesMiddles: true)
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: (similarFrames + 1) * bins)
        defer { rows.deallocate() }
        magnitude.withUnsafeBufferPointer { m in
            background.withUnsafeMutableBufferPointer { b in
                for frame in 0..<frames {
                    // The most similar frames, greedily, keeping them apart from each other and from this one.
                    // Candidates: the frames at least as similar as the 16·K-th most similar, best first
                    // (a full sort of every frame costs more than the rest of REPET-SIM together).
                    let row = Array(similarity[(frame * frames)..<((frame + 1) * frames)])
                    var scratch = row
                    let keep = min(frames, 16 * (similarFrames + 1))
                    let threshold = MedianFilter.kthLargest(&scratch, k: keep)
                    var candidates = 0
                    for index in 0..<frames where row[index] >= threshold && candidates < frames { order[candidates] = index; candidates += 1 }
                    order[0..<candidates].sort { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
                    chosen.removeAll(keepingCapacity: true)
                    chosen.append(frame)
                    for candidate in order[0..<candidates] where chosen.count <= similarFrames {
                        if chosen.allSatisfy({ abs($0 - candidate) >= minimumDistanceFrames }) { chosen.append(candidate) }
                    }
                    for (index, other) in chosen.enumerated() { (rows + index * bins).update(from: m.baseAddress! + other * bins, count: bins) }
                    let out = b.baseAddress! + frame * bins
                    networks.network(count: chosen.count).median(rows: rows, length: bins, into: out)
                    for bin in 0..<bins { out[bin] = min(out[bin], m[frame * bins + bin]) }
                }
            }
        }
        return background
    }
}
