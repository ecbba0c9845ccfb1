import Foundation

/// Signal-to-noise ratio of `estimate` against `reference`, in dB, with double-precision sums
/// (an exact match gives a very large finite figure, not infinity).
public func snr(_ reference: [Float], _ estimate: [Float]) -> Double {
    var signal = 0.0, noise = 0.0
    for (r, e) in zip(reference, estimate) {
        signal += Double(r) * Double(r)
        noise += Double(r - e) * Double(r - e)
    }
    return 10 * log10(signal / max(noise, 1e-300))
}
