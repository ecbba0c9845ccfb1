import Foundation
import Spectrum

extension ResUNet30 {
    /// Named intermediate results of one forward pass, for layer-by-layer tests and the profiler.
    /// The maps live in reused slots: a callback that keeps one must keep `map.copy()`.
    public typealias Trace = (String, FeatureMap) -> Void

    /// The maps one window of `frames` STFT frames lays out: the size of each of the three slots
    /// and of each level's skip, in floats, and the spectra beside them.
    struct WindowPlan {
        var slotFloats: [Int]
        var skipFloats: [Int]
        var spectrumFloats: Int
        var totalFloats: Int { slotFloats.reduce(0, +) + skipFloats.reduce(0, +) + spectrumFloats }
    }

    /// Replays `maskLogits`' use of the slots (which map goes in which, level by level) and keeps
    /// each slot's largest: where level 0 runs in row bands (`RowBands`) its maps take no slot at
    /// all, and the slots are as large as level 1's maps. A map `maskLogits` asks for beyond its
    /// slot's size stops the program (`FeatureMap(view:)`), so the two cannot drift apart quietly.
    func windowPlan(frames: Int) -> WindowPlan {
        let netBins = Self.frequencyBins - 1
        let padded = (frames + Self.timeMultiple - 1) / Self.timeMultiple * Self.timeMultiple
        var slots = [0, 0, 0]
        func use(_ index: Int, _ channels: Int, _ frames: Int, _ bins: Int) { slots[index] = max(slots[index], channels * frames * bins) }
        let (firstInBands, lastInBands) = levelZeroInBands
        use(firstInBands ? 1 : 2, 1, padded, netBins)                   // bn0
        if !firstInBands { use(0, encoderWidths[0], padded, netBins) }  // pre_conv
        var current = 0
        var skips: [Int] = []
        var levelFrames = padded, levelBins = netBins
        var skipShapes: [(Int, Int)] = []
        for (index, block) in encoders.enumerated() {
            let pool = Self.pools[index]
            let pooledSlot = block.poolsInKernel(pool) ? (current + 2) % 3 : current
            use(pooledSlot, block.outChannels, levelFrames / pool.0, levelBins / pool.1)
            if !encoderInBands(index) { use((current + 1) % 3, block.outChannels, levelFrames, levelBins) }
            skips.append(block.outChannels * levelFrames * levelBins)
            skipShapes.append((levelFrames, levelBins))
            levelFrames /= pool.0
            levelBins /= pool.1
            current = pooledSlot
        }
        use((current + 1) % 3, centreWidth, levelFrames, levelBins)
        use((current + 2) % 3, centreWidth, levelFrames, levelBins)
        current = (current + 2) % 3
        for (index, decoder) in decoders.enumerated() {
            let (skipFrames, skipBins) = skipShapes.removeLast()
            if index == decoders.count - 1 && lastInBands { break }   // level 0 in bands takes no slot
            let a = (current + 1) % 3, b = (current + 2) % 3
            if !decoderInBands(index) {   // in bands, only the output is whole
                use(a, decoder.outChannels, skipFrames, skipBins)
                use(current, decoder.outChannels, skipFrames, skipBins)
            }
            use(b, decoder.outChannels, skipFrames, skipBins)
            current = b
        }
        // Spectra: real and imaginary (masked in place), magnitude, and the logits.
        return WindowPlan(slotFloats: slots, skipFloats: skips,
                          spectrumFloats: 3 * frames * Self.frequencyBins + 3 * padded * netBins)
    }

    /// Floats one window of `frames` STFT frames holds at its peak (see `AudioSepEngine.windowBytes`).
    func windowFloats(frames: Int) -> Int { windowPlan(frames: frames).totalFloats }

    /// Allocates the slots and skips a window of `frames` STFT frames uses, before it runs: the
    /// memory that grows with the window is had here or refused with a typed error, never
    /// found missing half-way through the network.
    func reserve(frames: Int, workspace: Workspace) throws {
        let plan = windowPlan(frames: frames)
        try workspace.reserveSlots(plan.slotFloats)
        for (level, floats) in plan.skipFloats.enumerated() { try workspace.reserveSkip(level, floats: floats) }
        if options.precision == .bf16 { try workspace.reserveBFloat16Scratch() }
    }

    /// Mask logits [3, frames, 1025] for a magnitude spectrogram `[frames × 1025]`
    /// (the U-Net: bn0, padding, pre_conv, encoders, centre, decoders, after_conv).
    func maskLogits(magnitude: [Float], frames: Int, conditioning: Conditioning, workspace: Workspace, trace: Trace?) -> FeatureMap {
        let bins = Self.frequencyBins
        let netBins = bins - 1   // the Nyquist bin is dropped: 1024 halves cleanly six times
        let padded = (frames + Self.timeMultiple - 1) / Self.timeMultiple * Self.timeMultiple
        // Short-lived maps live in three slots of the largest map's size, each level's skip in a
        // buffer of its own; both are kept for the next window of this length. Slot roles rotate:
        // `current` holds the running map, the other two take what each step makes.
        workspace.prepareSlots(windowPlan(frames: frames).slotFloats)
        func slot(_ index: Int, _ channels: Int, _ frames: Int, _ bins: Int) -> FeatureMap {
            workspace.slot(index, channels: channels, frames: frames, bins: bins)
        }
        func record(_ name: String, _ map: FeatureMap) { trace?(name, map) }

        // bn0 normalises each frequency bin; the frames added as padding stay exactly zero.
        let (firstInBands, lastInBands) = levelZeroInBands
        // In bands, pre_conv's map is never whole and slot 0 stays free for the pool.
        let normalised = slot(firstInBands ? 1 : 2, 1, padded, netBins)
        normalised.withUnsafeMutableBufferPointer { values in
            for frame in 0..<frames {
                for bin in 0..<netBins {
                    values[frame * netBins + bin] = magnitude[frame * bins + bin] * bn0.scale[bin] + bn0.shift[bin]
                }
            }
            (values.baseAddress! + frames * netBins).update(repeating: 0, count: (padded - frames) * netBins)
        }
        record("bn0_out", normalised)
        var current = 0
        var x = normalised
        if !firstInBands {
            x = Convolution.conv1x1(normalised, weights: preConv.weight, bias: preConv.bias, outChannels: encoderWidths[0],
                                    into: slot(0, encoderWidths[0], padded, netBins), workspace: workspace)
            record("pre_conv", x)
        }

        var skips: [FeatureMap] = []
        for (index, block) in encoders.enumerated() {
            let pool = Self.pools[index], name = "encoder_block\(index + 1)"
            // Where conv2 pools as it writes, the pooled map takes the slot neither x nor the
            // hidden map holds; otherwise it is pooled after the block, into x's slot (the block
            // has read x for the last time).
            let pooledSlot = block.poolsInKernel(pool) ? (current + 2) % 3 : current
            let (frames, bins) = index == 0 ? (padded, netBins) : (x.frames, x.bins)
            let pooled = slot(pooledSlot, block.outChannels, frames / pool.0, bins / pool.1)
            let output = workspace.skip(index, channels: block.outChannels, frames: frames, bins: bins)
            let skip: FeatureMap
            if index == 0 && firstInBands {
                block.forwardInBands([.pointwise(normalised, weights: preConv.weight, bias: preConv.bias)], frames: frames, bins: bins,
                                     offsets: conditioning.encoders[index],
                                     sink: .map(output, pooled: block.poolsInKernel(pool) ? pooled : nil), workspace: workspace)
                skip = output
                record(name + block.bandedStage(pooled: block.poolsInKernel(pool), before: "pre_conv"), skip)
            } else if encoderInBands(index) {
                block.forwardInBands([.map(x)], frames: frames, bins: bins, offsets: conditioning.encoders[index],
                                     sink: .map(output, pooled: block.poolsInKernel(pool) ? pooled : nil), workspace: workspace)
                skip = output
                record(name + block.bandedStage(pooled: block.poolsInKernel(pool)), skip)
            } else {
                skip = block.forward([x], offsets: conditioning.encoders[index],
                                     hidden: slot((current + 1) % 3, block.outChannels, x.frames, x.bins), output: output,
                                     pooled: block.poolsInKernel(pool) ? pooled : nil, workspace: workspace, name: name, trace: trace)
            }
            record(name + "/skip", skip)
            if !block.poolsInKernel(pool) {
                _ = Convolution.averagePool(skip, frames: pool.0, bins: pool.1, into: pooled, workspace: workspace)
            }
            x = pooled
            current = pooledSlot
            record(name + "/pool", x)
            skips.append(skip)
        }
        let centreOut = (current + 2) % 3
        x = centre.forward([x], offsets: conditioning.centre, hidden: slot((current + 1) % 3, centre.outChannels, x.frames, x.bins),
                           output: slot(centreOut, centre.outChannels, x.frames, x.bins), workspace: workspace,
                           name: "conv_block7a", trace: trace)
        current = centreOut
        record("conv_block7a", x)

        for (index, decoder) in decoders.enumerated() {
            let skip = skips.removeLast()
            if index == decoders.count - 1 && lastInBands {
                // Level 0 in bands, after_conv included: the logits are the one whole map it writes.
                let logits = FeatureMap(uninitializedChannels: 3, frames: skip.frames, bins: skip.bins, workspace: workspace)
                let up = Convolution.Activation(scale: decoder.bn1.scale, offset: conditioning.decoders[index].up)
                decoder.block.forwardInBands([.upsample(decoder.upsample, input: x, activation: up), .map(skip)],
                                             frames: skip.frames, bins: skip.bins, offsets: conditioning.decoders[index].block,
                                             sink: .pointwise(weights: afterConv.weight, bias: afterConv.bias, into: logits),
                                             workspace: workspace)
                record("decoder_block\(index + 1)" + decoder.block.bandedStage(pooled: false, before: "upsample", after: "after_conv"), logits)
                return logits
            }
            let a = (current + 1) % 3, b = (current + 2) % 3
            if decoderInBands(index) {
                let output = slot(b, decoder.outChannels, skip.frames, skip.bins)
                let up = Convolution.Activation(scale: decoder.bn1.scale, offset: conditioning.decoders[index].up)
                decoder.block.forwardInBands([.upsample(decoder.upsample, input: x, activation: up), .map(skip)],
                                             frames: skip.frames, bins: skip.bins, offsets: conditioning.decoders[index].block,
                                             sink: .map(output, pooled: nil), workspace: workspace)
                x = output
                current = b
                record("decoder_block\(index + 1)" + decoder.block.bandedStage(pooled: false, before: "upsample"), x)
                continue
            }
            // The upsampled map takes a free slot; the activation before it is applied band by
            // band inside the transposed convolution. cat([up, skip]) is never stored.
            let up = slot(a, decoder.outChannels, skip.frames, skip.bins)
            decoder.upsample(x, activation: .init(scale: decoder.bn1.scale, offset: conditioning.decoders[index].up),
                             into: up, channelOffset: 0, workspace: workspace)
            record("decoder_block\(index + 1)/upsample", up)
            x = decoder.block.forward([up, skip], offsets: conditioning.decoders[index].block,
                                      hidden: slot(current, decoder.outChannels, skip.frames, skip.bins),
                                      output: slot(b, decoder.outChannels, skip.frames, skip.bins), workspace: workspace,
                                      name: "decoder_block\(index + 1)", trace: trace)
            current = b
            record("decoder_block\(index + 1)", x)
        }
        let logits = Convolution.conv1x1(x, weights: afterConv.weight, bias: afterConv.bias, outChannels: 3, workspace: workspace)
        record("after_conv", logits)
        return logits
    }

    /// U-Net levels whose blocks run in row bands (`RowBands`): 0 to 2, whose maps (128, 64 and
    /// 32 MB at 10 s) are as large as the last-level cache or larger. (Level 2 in bands was as
    /// fast as layer by layer and 16 MB lighter; level 3's 16 MB maps fit in the cache.)
    static let bandedLevels = 3

    /// Whether encoder block `index` runs in row bands (level 0's with pre_conv): at a banded
    /// level, where `options.rowBands` and both convolutions are on a fused kernel.
    func encoderInBands(_ index: Int) -> Bool {
        options.rowBands && index < Self.bandedLevels && encoders[index].runsInBands
    }

    /// Whether decoder block `index` runs in row bands, its upsampling included (and level 0's
    /// after_conv): as `encoderInBands`, with the upsampling on a fused kernel too.
    func decoderInBands(_ index: Int) -> Bool {
        let decoder = decoders[index]
        return options.rowBands && decoders.count - 1 - index < Self.bandedLevels && decoder.block.runsInBands
            && decoder.upsample.build != nil && decoder.stride.frames == 2
    }

    /// Level 0's two blocks: in bands or not.
    var levelZeroInBands: (encoder: Bool, decoder: Bool) { (encoderInBands(0), decoderInBands(decoders.count - 1)) }

    /// Floating-point operations of each traced stage of the U-Net for a window of `frames` STFT
    /// frames, in trace order (multiply and add count two; BatchNorm, FiLM and leaky ReLU three
    /// per value). For the profiler's GFLOP/s column.
    public func operations(frames: Int) -> [(stage: String, operations: Double)] {
        var levelFrames = (frames + Self.timeMultiple - 1) / Self.timeMultiple * Self.timeMultiple
        var levelBins = Self.frequencyBins - 1
        let first = Double(encoderWidths[0] * levelFrames * levelBins)
        let (firstInBands, lastInBands) = levelZeroInBands
        var result: [(String, Double)] = [("bn0_out", first / Double(encoderWidths[0]) * 2)]
        if !firstInBands { result.append(("pre_conv", 2 * first)) }
        var pixels: [Int] = []
        for (index, block) in encoders.enumerated() {
            let name = "encoder_block\(index + 1)"
            pixels.append(levelFrames * levelBins)
            let pooledInKernel = block.poolsInKernel(Self.pools[index])
            if index == 0 && firstInBands {
                let stage = block.operations(pixels: levelFrames * levelBins, name: name, pooled: pooledInKernel).reduce(0) { $0 + $1.1 }
                result.append((name + block.bandedStage(pooled: pooledInKernel, before: "pre_conv"), stage + 2 * first))
            } else if encoderInBands(index) {
                let stage = block.operations(pixels: levelFrames * levelBins, name: name, pooled: pooledInKernel).reduce(0) { $0 + $1.1 }
                result.append((name + block.bandedStage(pooled: pooledInKernel), stage))
            } else {
                result += block.operations(pixels: levelFrames * levelBins, name: name, pooled: pooledInKernel)
            }
            levelFrames /= Self.pools[index].0
            levelBins /= Self.pools[index].1
            if !pooledInKernel { result.append((name + "/pool", Double(block.outChannels * levelFrames * levelBins * 4))) }
        }
        result += centre.operations(pixels: levelFrames * levelBins, name: "conv_block7a")
        var inPixels = levelFrames * levelBins
        for (index, decoder) in decoders.enumerated() {
            let name = "decoder_block\(index + 1)"
            let patch = Double(decoder.stride.frames * decoder.stride.bins)
            let upsample = Double(inPixels * decoder.inChannels) * (3 + 2 * Double(decoder.outChannels) * patch)
            inPixels = pixels.removeLast()
            if index == decoders.count - 1 && lastInBands {
                let stage = decoder.block.operations(pixels: inPixels, name: name).reduce(0) { $0 + $1.1 }
                result.append((name + decoder.block.bandedStage(pooled: false, before: "upsample", after: "after_conv"),
                               upsample + stage + 2 * 3 * first))
                return result
            }
            if decoderInBands(index) {
                let stage = decoder.block.operations(pixels: inPixels, name: name).reduce(0) { $0 + $1.1 }
                result.append((name + decoder.block.bandedStage(pooled: false, before: "upsample"), upsample + stage))
                continue
            }
            result.append((name + "/upsample", upsample))
            result += decoder.block.operations(pixels: inPixels, name: name)
        }
        result.append(("after_conv", 2 * 3 * first))
        return result
    }

    /// A window's STFT and magnitudes: computed once per channel, and shared by every query that
    /// separates the window.
    public struct Spectrum {
        var real: [Float], imag: [Float], magnitude: [Float]
        let frames: Int
        /// The window's length, and the length the STFT saw (at least its minimum: shorter windows
        /// are zero-padded and the output cropped back).
        let length: Int, paddedLength: Int
    }

    /// The window's STFT, as `separate(spectrum:…)` takes it.
    public func analyse(_ samples: [Float], stft: STFT, trace: Trace? = nil) -> Spectrum {
        let length = samples.count
        // The centred STFT reflects fftSize/2 samples at each end; shorter windows are zero-padded
        // to the minimum and the output cropped back.
        let input = length >= stft.minimumSamples ? samples : samples + [Float](repeating: 0, count: stft.minimumSamples - length)
        let bins = Self.frequencyBins
        let frames = stft.frameCount(samples: input.count)
        let (real, imag) = stft.forward(input)
        var magnitude = [Float](repeating: 0, count: real.count)
        for index in real.indices {
            // Power floored at 1e-10 before the root, as upstream; silence gives cos = sin = 0
            // (the phase, real / m and imag / m, is taken where the mask is applied).
            magnitude[index] = max(real[index] * real[index] + imag[index] * imag[index], 1e-10).squareRoot()
        }
        if let trace {
            trace("stft_real", FeatureMap(channels: 1, frames: frames, bins: bins, values: real))
            trace("stft_imag", FeatureMap(channels: 1, frames: frames, bins: bins, values: imag))
            trace("mag", FeatureMap(channels: 1, frames: frames, bins: bins, values: magnitude))
        }
        return Spectrum(real: real, imag: imag, magnitude: magnitude, frames: frames, length: length, paddedLength: input.count)
    }

    /// Separates one mono window at 32 kHz: STFT, U-Net, mask, inverse STFT.
    /// Output has exactly `samples.count` samples.
    public func separate(_ samples: [Float], conditioning: Conditioning, stft: STFT, workspace: Workspace,
                         trace: Trace? = nil) -> [Float] {
        if samples.isEmpty { return [] }
        return separate(spectrum: analyse(samples, stft: stft, trace: trace), conditioning: conditioning, stft: stft,
                        workspace: workspace, trace: trace)
    }

    /// The U-Net, the mask and the inverse STFT over a window's spectrum (`analyse`).
    public func separate(spectrum: Spectrum, conditioning: Conditioning, stft: STFT, workspace: Workspace,
                         trace: Trace? = nil) -> [Float] {
        if spectrum.length == 0 { return [] }
        var real = spectrum.real, imag = spectrum.imag
        let magnitude = spectrum.magnitude, frames = spectrum.frames, bins = Self.frequencyBins
        let logits = maskLogits(magnitude: magnitude, frames: frames, conditioning: conditioning, workspace: workspace, trace: trace)

        // Apply the mask, in place: each bin's phase (real / m, imag / m) is read before its
        // masked value replaces it. Logits cover 1024 bins and ≥ frames frames; the Nyquist bin's
        // logits are the zero padding upstream adds back, which gives a zero output bin.
        let netBins = bins - 1, plane = logits.planeSize
        logits.withUnsafeBufferPointer { l in
            real.withUnsafeMutableBufferPointer { re in
                imag.withUnsafeMutableBufferPointer { im in
                    magnitude.withUnsafeBufferPointer { magnitude in
                        let l = l.baseAddress!, re = re.baseAddress!, im = im.baseAddress!, magnitude = magnitude.baseAddress!
                        // Frames are independent: split over the threads (exp and tanh dominate).
                        workspace.parallelRanges(frames, minimum: 16) { range in
                            for frame in range {
                                for bin in 0..<netBins {
                                    let at = frame * netBins + bin
                                    let gain = 1 / (1 + exp(-l[at]))
                                    let maskRe = tanh(l[plane + at]), maskIm = tanh(l[2 * plane + at])
                                    let norm = max((maskRe * maskRe + maskIm * maskIm).squareRoot(), 1e-10)
                                    let maskCos = maskRe / norm, maskSin = maskIm / norm
                                    let index = frame * bins + bin
                                    let cosine = re[index] / magnitude[index], sine = im[index] / magnitude[index]
                                    let outCos = cosine * maskCos - sine * maskSin
                                    let outSin = sine * maskCos + cosine * maskSin
                                    let outMag = max(0, magnitude[index] * gain)
                                    re[index] = outMag * outCos
                                    im[index] = outMag * outSin
                                }
                                re[frame * bins + netBins] = 0
                                im[frame * bins + netBins] = 0
                            }
                        }
                    }
                }
            }
        }
        if let trace {
            trace("sep_real", FeatureMap(channels: 1, frames: frames, bins: bins, values: real))
            trace("sep_imag", FeatureMap(channels: 1, frames: frames, bins: bins, values: imag))
        }
        let output = stft.inverse(real: real, imag: imag, frames: frames, length: spectrum.paddedLength)
        return spectrum.length == spectrum.paddedLength ? output : Array(output[0..<spectrum.length])
    }
}
