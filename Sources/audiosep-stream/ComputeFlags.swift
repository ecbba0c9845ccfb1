import ArgumentParser
import AudioSep

/// How AudioSep's network computes, for the filter, the tuner's children and the worker.
struct ComputeFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("How AudioSep's 3×3 convolutions compute: winograd (fast, equal to float32 rounding) or im2col (the plain form).",
                                            valueName: "winograd|im2col"))
    var convolution: String = ComputeOptions.standard.convolution.rawValue
    @Option(name: .long, help: ArgumentHelp("Arithmetic of the 3×3 convolutions: fp32, or bf16 (AVX-512 BF16 products: 20–35 dB from fp32, and slower than fp32 on the fused kernels; without AVX-512 BF16, fp32 is used, with a note).",
                                            valueName: "fp32|bf16"))
    var precision: String = ComputeOptions.standard.precision.rawValue
    @Option(name: .long, help: ArgumentHelp("Code for the fp32 Winograd layers and the upsampling: auto (the fastest this CPU runs), our fused kernels for avx512, avx2 or any CPU (portable), or blas (OpenBLAS sgemm).",
                                            valueName: "auto|avx512|avx2|portable|blas"))
    var kernels: String = "auto"

    /// The same choices as flags, for a child process of the tool.
    var arguments: [String] { ["--convolution", convolution, "--precision", precision, "--kernels", kernels] }

    /// The options; bf16 on a CPU without it falls back to fp32 and says so on stderr.
    func options() throws -> ComputeOptions {
        guard let algorithm = ComputeOptions.Convolution(rawValue: convolution) else {
            throw ValidationError("--convolution must be winograd or im2col, got \(convolution)")
        }
        guard let arithmetic = ComputeOptions.Precision(rawValue: precision) else {
            throw ValidationError("--precision must be fp32 or bf16, got \(precision)")
        }
        let build: KernelBuild
        if kernels == "auto" {
            build = .best
        } else if let named = KernelBuild(rawValue: kernels) {
            guard named.isSupported else {
                throw ValidationError("--kernels \(kernels) needs an instruction set this CPU lacks (\(named == .avx512 ? "AVX-512F" : "AVX2 and FMA"))")
            }
            build = named
        } else {
            throw ValidationError("--kernels must be auto, avx512, avx2, portable or blas, got \(kernels)")
        }
        if !ComputeOptions.hardwareSupports(arithmetic) {
            Console.error("audiosep-stream: note: --precision \(precision) needs AVX-512 BF16, which this CPU lacks (or \(BFloat16GEMM.disableVariable) is set); computing in fp32\n")
            return ComputeOptions(convolution: algorithm, precision: .fp32, kernels: build)
        }
        return ComputeOptions(convolution: algorithm, precision: arithmetic, kernels: build)
    }
}
