import ArgumentParser
import Engine

/// How AudioSep's network computes, for the filter, the tuner's children and the worker.
struct ComputeFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("How AudioSep's 3×3 convolutions compute: winograd (fast, equal to float32 rounding) or im2col (the plain form).",
                                            valueName: "winograd|im2col"))
    var convolution: String = ComputeOptions.standard.convolution.rawValue
    @Option(name: .long, help: ArgumentHelp("Arithmetic of the 3×3 convolutions: fp32, or bf16 (about twice as fast on CPUs with AVX-512 BF16; elsewhere fp32 is used, with a note).",
                                            valueName: "fp32|bf16"))
    var precision: String = ComputeOptions.standard.precision.rawValue
    @Option(name: .long, help: ArgumentHelp("Code for the fp32 Winograd layers: auto (the fastest this CPU runs), avx512, avx2, portable (fused C for any CPU) or phases (three passes over OpenBLAS).",
                                            valueName: "auto|avx512|avx2|portable|phases"))
    var winogradKernel: String = "auto"

    /// The same choices as flags, for a child process of the tool.
    var arguments: [String] { ["--convolution", convolution, "--precision", precision, "--winograd-kernel", winogradKernel] }

    /// The options; bf16 on a CPU without it falls back to fp32 and says so on stderr.
    func options() throws -> ComputeOptions {
        guard let algorithm = ComputeOptions.Convolution(rawValue: convolution) else {
            throw ValidationError("--convolution must be winograd or im2col, got \(convolution)")
        }
        guard let arithmetic = ComputeOptions.Precision(rawValue: precision) else {
            throw ValidationError("--precision must be fp32 or bf16, got \(precision)")
        }
        let kernel: Winograd.Kernel
        if winogradKernel == "auto" {
            kernel = .best
        } else if let named = Winograd.Kernel(rawValue: winogradKernel) {
            guard named.isSupported else {
                throw ValidationError("--winograd-kernel \(winogradKernel) needs an instruction set this CPU lacks (\(named == .avx512 ? "AVX-512F" : "AVX2 and FMA"))")
            }
            kernel = named
        } else {
            throw ValidationError("--winograd-kernel must be auto, avx512, avx2, portable or phases, got \(winogradKernel)")
        }
        if !ComputeOptions.hardwareSupports(arithmetic) {
            Console.error("audiosep-stream: note: --precision \(precision) needs AVX-512 BF16, which this CPU lacks (or \(BFloat16GEMM.disableVariable) is set); computing in fp32\n")
            return ComputeOptions(convolution: algorithm, precision: .fp32, winogradKernel: kernel)
        }
        return ComputeOptions(convolution: algorithm, precision: arithmetic, winogradKernel: kernel)
    }
}
