import CKernels
import Foundation

/// A Kaiser-windowed sinc low-pass tabulated at each phase a rational rate ratio visits: the
/// converter `--resample-quality medium` and `fast` use. For out/in = L/M in lowest terms, output
/// n lies at input time n·M/L; its phase (n·M mod L) picks one row of `taps` coefficients, and the
/// output is that row's dot product with the input around it. libsamplerate's sinc converters
/// interpolate their coefficients afresh for every output sample (any ratio, even a varying
/// one); a fixed ratio needs only its L rows, computed once, which makes the same filter several
/// times cheaper (tools/bench-resample).
struct PolyphaseFilter: Sendable {
    /// The reduced ratio: L outputs for every M inputs.
    let up: Int, down: Int
    /// Coefficients a row (a multiple of 16) and the rows, phase after phase.
    let taps: Int
    let rows: [Float]

    /// What a design promises, as fractions of the lower rate's Nyquist frequency.
    struct Design: Equatable, Sendable {
        /// Stopband attenuation (dB); passband edge and stopband edge.
        var attenuation: Double, passband: Double, stopband: Double

        /// 125 dB of attenuation (libsamplerate's medium measures 121 dB), 90 % bandwidth as its.
        static let medium = Design(attenuation: 125, passband: 0.90, stopband: 1.0)
        /// 100 dB (above 16-bit output's 98 dB floor), 80 % bandwidth as libsamplerate's fastest.
        static let fast = Design(attenuation: 100, passband: 0.80, stopband: 1.0)
    }

    /// Phases above which a table is not worth its memory (an odd rate, such as 44 101 hz, has
    /// as many phases as hz): such ratios go to libsamplerate.
    static let maximumPhases = 4096
    /// And floats a table holds at most (16 MB).
    static let maximumFloats = 4 << 20

    /// The filter for `inputRate` → `outputRate`, or nil when the ratio needs more phases than
    /// `maximumPhases` (or a larger table than `maximumFloats`).
    init?(inputRate: Int, outputRate: Int, design: Design) {
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let common = gcd(inputRate, outputRate)
        let up = outputRate / common, down = inputRate / common
        // Widths in input samples: a design is stated at the lower rate; downsampling stretches it.
        let stretch = max(1, Double(down) / Double(up))
        let transition = (design.stopband - design.passband) * 0.5 / stretch         // cycles per input sample
        let cutoff = (design.passband + design.stopband) * 0.5 * 0.5 / stretch
        let length = (design.attenuation - 7.95) / (14.36 * transition) + 1         // Kaiser's estimate
        let taps = (Int(length.rounded(.up)) + 15) / 16 * 16
        guard up <= Self.maximumPhases, up * taps <= Self.maximumFloats else { return nil }
        self.up = up
        self.down = down
        self.taps = taps
        let beta = 0.1102 * (design.attenuation - 8.7)
        let half = Double(taps) / 2, normaliser = Self.besselI0(beta)
        // Row p, entry i: the impulse response at (taps/2 − 1 − i + p/L) input samples from the
        // output's time, so that a row's dot product runs forward over the input.
        var rows = [Float](repeating: 0, count: up * taps)
        for phase in 0..<up {
            let fraction = Double(phase) / Double(up)
            for i in 0..<taps {
                let t = half - 1 - Double(i) + fraction
                let ratio = t / half
                guard abs(ratio) < 1 else { continue }
                let x = 2 * cutoff * t
                let sinc = x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
                let window = Self.besselI0(beta * (1 - ratio * ratio).squareRoot()) / normaliser
                rows[phase * taps + i] = Float(2 * cutoff * sinc * window)
            }
        }
        self.rows = rows
    }

    /// Samples before an output's time at which its row's input starts.
    var leading: Int { taps / 2 - 1 }

    /// The modified Bessel function of the first kind, order 0 (its power series).
    static func besselI0(_ x: Double) -> Double {
        var sum = 1.0, term = 1.0, k = 1.0
        let quarter = x * x / 4
        repeat {
            term *= quarter / (k * k)
            sum += term
            k += 1
        } while term > sum * 1e-17
        return sum
    }
}

/// One channel's streaming conversion through a `PolyphaseFilter`: input is kept from the first
/// sample the next output needs; the signal before the first sample and after the last is zero.
struct PolyphaseChannel {
    let filter: PolyphaseFilter
    /// Input held, from input index `start − leading` on (the first `leading` are zeros at first).
    private var history: [Float]
    private var start = 0          // padded index of history[0]
    private var received = 0       // input samples so far
    private var produced = 0       // output samples so far

    init(filter: PolyphaseFilter) {
        self.filter = filter
        history = [Float](repeating: 0, count: filter.leading)
    }

    /// The outputs `input` completes; with `endOfInput`, every output up to the input's end.
    mutating func process(_ input: [Float], endOfInput: Bool) -> [Float] {
        history += input
        received += input.count
        let taps = filter.taps, up = filter.up, down = filter.down
        var last: Int   // outputs 0 ..< last can be made now
        if endOfInput {
            // Outputs up to the input's length (⌈received · L / M⌉), read against zeros past it.
            last = (received * up + down - 1) / down
            let needed = (last - 1) * down / up + taps - start
            if last > produced, needed > history.count { history += [Float](repeating: 0, count: needed - history.count) }
        } else {
            // Output n needs padded input base(n) ..< base(n) + taps, base(n) = ⌊n·M / L⌋.
            // base(n) ≤ A exactly when n < (A + 1)·L / M.
            let available = start + history.count - taps   // the last base that fits
            last = available < 0 ? 0 : ((available + 1) * up + down - 1) / down
        }
        guard last > produced else {
            if endOfInput { history.removeAll() }
            return []
        }
        var output = [Float](repeating: 0, count: last - produced)
        let first = produced, origin = start
        history.withUnsafeBufferPointer { x in
            filter.rows.withUnsafeBufferPointer { c in
                output.withUnsafeMutableBufferPointer { y in
                    ck_polyphase_run(c.baseAddress!, taps, up, down, x.baseAddress!, Int64(origin), Int64(first), Int64(last),
                                     y.baseAddress!)
                }
            }
        }
        produced = last
        let keepFrom = min(history.count, produced * down / up - start)
        history.removeFirst(keepFrom)
        start += keepFrom
        return output
    }
}
