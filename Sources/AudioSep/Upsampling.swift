import CKernels
import Foundation

/// The decoder's upsampling (a transposed convolution whose kernel equals its stride), with its
/// weights in the form its code wants, prepared at load: the fused C kernel's packing for a
/// `KernelBuild` that has one, else PyTorch's layout for the OpenBLAS bands.
public struct UpsampleLayer {
    public let inChannels: Int, outChannels: Int
    public let kernelFrames: Int, kernelBins: Int
    /// PyTorch's layout, for the OpenBLAS bands (empty with a fused build).
    let weights: [Float]
    let build: ck_build?
    let packed: FloatStorage?

    /// `weights` is PyTorch's ConvTranspose2d `[in][out][kt][kf]`.
    public init(weights: [Float], inChannels: Int, outChannels: Int, kernelFrames: Int, kernelBins: Int, kernels: KernelBuild) throws {
        precondition(weights.count == inChannels * outChannels * kernelFrames * kernelBins)
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelFrames = kernelFrames
        self.kernelBins = kernelBins
        precondition(kernels.isSupported, "--kernels \(kernels) on a CPU without its instructions")
        build = kernels.fused
        // PyTorch's layout only where the OpenBLAS bands read it; the fused kernel reads its packing alone.
        self.weights = build == nil ? weights : []
        if build != nil {
            let packed = try FloatStorage.weights(ck_upsample_packed_floats(inChannels, outChannels, kernelFrames, kernelBins))
            ck_upsample_pack_weights(weights, inChannels, outChannels, kernelFrames, kernelBins, packed.pointer)
            self.packed = packed
        } else {
            packed = nil
        }
    }

    /// Input blocks one thread takes at a time (32 pixels each).
    static let blocksPerTask = 16

    /// The upsampled `input` (activated first when `activation` is given) into `destination`'s
    /// channels from `channelOffset` on. Fused builds write outputs of `streamingBytes` or more
    /// with streaming stores.
    public func callAsFunction(_ input: FeatureMap, activation: Convolution.Activation?, into destination: FeatureMap,
                               channelOffset: Int, streamingBytes: Int = Winograd.streamingBytes, workspace: Workspace) {
        guard let build, let packed else {
            Convolution.convTransposeStrided(input, activation: activation, weights: weights, outChannels: outChannels,
                                             kernelFrames: kernelFrames, kernelBins: kernelBins, into: destination,
                                             channelOffset: channelOffset, workspace: workspace)
            return
        }
        precondition(input.channels == inChannels)
        precondition(destination.frames == input.frames * kernelFrames && destination.bins == input.bins * kernelBins)
        precondition(channelOffset + outChannels <= destination.channels)
        if let activation { precondition(activation.scale.count == inChannels && activation.offset.count == inChannels) }
        let blockPixels = ck_upsample_block_pixels()
        let blocks = input.frames * ((input.bins + blockPixels - 1) / blockPixels)
        let tasks = (blocks + Self.blocksPerTask - 1) / Self.blocksPerTask
        let scratchFloats = ck_upsample_scratch_floats(inChannels)
        let outputBytes = outChannels * destination.planeSize * MemoryLayout<Float>.stride
        let scale = activation?.scale ?? [], offset = activation?.offset ?? []
        scale.withUnsafeBufferPointer { scale in
            offset.withUnsafeBufferPointer { offset in
                let layer = ck_upsample_layer(
                    input: input.storage.pointer, scale: activation == nil ? nil : scale.baseAddress, offset: offset.baseAddress,
                    slope: activation?.slope ?? 1, in_channels: inChannels, out_channels: outChannels,
                    frames: input.frames, bins: input.bins, kernel_frames: kernelFrames, kernel_bins: kernelBins,
                    weights: packed.pointer, output: destination.storage.pointer + channelOffset * destination.planeSize,
                    streaming: outputBytes >= streamingBytes ? 1 : 0, output_origin: 0, output_frames: 0)
                withUnsafePointer(to: layer) { layer in
                    workspace.parallel(tasks) { worker, task in
                        let first = task * Self.blocksPerTask
                        ck_upsample_run(build, layer, first, min(Self.blocksPerTask, blocks - first),
                                        workspace.buffer(worker, floats: scratchFloats))
                    }
                }
            }
        }
    }
}
