import CFFTW
import Foundation

/// Short-time Fourier transform with torchlibrosa's semantics, on FFTW.
///
/// Frames of `fftSize` samples every `hopSize`, centred (the signal is reflect-padded by
/// fftSize/2 on both sides), periodic Hann window, X[k] = Σ x[n]·w[n]·e^(−2πikn/N). The
/// inverse overlap-adds windowed inverse transforms, divides by the summed squared window
/// (clamped at 1e-11) and trims the centre padding to the requested length. Spectra are laid
/// out frame-major: `[frames][bins]`, bins = fftSize/2 + 1.
///
/// Plans are made once (FFTW's planner is not thread-safe); `forward` and `inverse` only
/// execute them on new arrays, which is. One instance is used by one thread at a time.
public final class STFT {
    public let fftSize: Int
    public let hopSize: Int
    public var bins: Int { fftSize / 2 + 1 }
    public let window: [Float]

    private let frameBuffer: UnsafeMutablePointer<Float>
    private let spectrumBuffer: UnsafeMutablePointer<fftwf_complex>
    private let forwardPlan: fftwf_plan
    private let inversePlan: fftwf_plan

    public init(fftSize: Int = 2048, hopSize: Int = 320) {
        self.fftSize = fftSize
        self.hopSize = hopSize
        // Periodic Hann: w[n] = ½ − ½·cos(2πn/N), as scipy's get_window('hann', N, fftbins=True).
        window = (0..<fftSize).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(fftSize))) }
        frameBuffer = fftwf_alloc_real(fftSize)
        spectrumBuffer = fftwf_alloc_complex(fftSize / 2 + 1)
        forwardPlan = fftwf_plan_dft_r2c_1d(Int32(fftSize), frameBuffer, spectrumBuffer, UInt32(FFTW_ESTIMATE))
        inversePlan = fftwf_plan_dft_c2r_1d(Int32(fftSize), spectrumBuffer, frameBuffer, UInt32(FFTW_ESTIMATE))
    }

    deinit {
        fftwf_destroy_plan(forwardPlan)
        fftwf_destroy_plan(inversePlan)
        fftwf_free(frameBuffer)
        fftwf_free(spectrumBuffer)
    }

    /// Frames of a centred transform of `samples` samples: 1 + ⌊samples / hop⌋.
    public func frameCount(samples: Int) -> Int { 1 + samples / hopSize }

    /// The smallest signal the reflect padding accepts: more than fftSize/2 samples.
    public var minimumSamples: Int { fftSize / 2 + 1 }

    /// Forward transform. Returns real and imaginary parts, each `[frames × bins]`.
    /// - Precondition: `signal.count >= minimumSamples` (reflection needs that much signal).
    public func forward(_ signal: [Float]) -> (real: [Float], imag: [Float]) {
        precondition(signal.count >= minimumSamples, "STFT needs at least \(minimumSamples) samples, got \(signal.count)")
        let frames = frameCount(samples: signal.count)
        let half = fftSize / 2
        let length = signal.count
        var real = [Float](repeating: 0, count: frames * bins)
        var imag = [Float](repeating: 0, count: frames * bins)
        signal.withUnsafeBufferPointer { x in
            window.withUnsafeBufferPointer { w in
                for frame in 0..<frames {
                    let start = frame * hopSize - half
                    for n in 0..<fftSize {
                        var index = start + n
                        // Reflect without repeating the edge sample (numpy/torch 'reflect').
                        if index < 0 { index = -index } else if index >= length { index = 2 * (length - 1) - index }
                        frameBuffer[n] = x[index] * w[n]
                    }
                    fftwf_execute_dft_r2c(forwardPlan, frameBuffer, spectrumBuffer)
                    let offset = frame * bins
                    for k in 0..<bins {
                        real[offset + k] = spectrumBuffer[k].0
                        imag[offset + k] = spectrumBuffer[k].1
                    }
                }
            }
        }
        return (real, imag)
    }

    /// Inverse transform of `[frames × bins]` spectra back to `length` samples.
    public func inverse(real: [Float], imag: [Float], frames: Int, length: Int) -> [Float] {
        precondition(real.count == frames * bins && imag.count == frames * bins)
        let half = fftSize / 2
        let total = (frames - 1) * hopSize + fftSize
        var sum = [Float](repeating: 0, count: total)
        var windowSquares = [Float](repeating: 0, count: total)
        let scale = 1 / Float(fftSize)
        window.withUnsafeBufferPointer { w in
            for frame in 0..<frames {
                let offset = frame * bins
                for k in 0..<bins {
                    spectrumBuffer[k].0 = real[offset + k]
                    spectrumBuffer[k].1 = imag[offset + k]
                }
                // c2r ignores the imaginary parts of DC and Nyquist, as the real inverse DFT does.
                fftwf_execute_dft_c2r(inversePlan, spectrumBuffer, frameBuffer)
                let start = frame * hopSize
                for n in 0..<fftSize {
                    sum[start + n] += frameBuffer[n] * scale * w[n]
                    windowSquares[start + n] += w[n] * w[n]
                }
            }
        }
        var output = [Float](repeating: 0, count: length)
        let available = min(length, total - half)
        for n in 0..<available {
            output[n] = sum[half + n] / max(windowSquares[half + n], 1e-11)
        }
        return output
    }
}
