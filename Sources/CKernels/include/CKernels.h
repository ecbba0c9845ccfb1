// Hand-written C kernels that Swift cannot express: code compiled for a CPU feature (AVX-512
// BF16, AVX-512F, AVX2) that is chosen at run time (cpu.c). The Swift-facing APIs are Engine's
// BFloat16GEMM.swift, Winograd.swift and Upsampling.swift, the built-in engine's MedianNetwork.swift
// and the stream's PolyphaseResampler.swift; these functions are their internals.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// The microkernels `ck_bf16_gemm` can run.
typedef enum {
    CK_BF16_PORTABLE = 0,    // plain C, any CPU: same bf16 quantisation, fp32 accumulation
    CK_BF16_AVX512 = 1,      // vdpbf16ps; only where ck_cpu_has_avx512bf16() returns 1
} ck_bf16_kernel;

/// 1 when the CPU has AVX512F, AVX512BW, AVX512VL and AVX512_BF16 and the OS saves the
/// AVX-512 registers (XCR0), else 0. Reads cpuid each call: cache the answer.
int ck_cpu_has_avx512bf16(void);

/// fp32 → bf16 bits: round to nearest even, NaN stays NaN (made quiet), ±inf stays, and
/// subnormals become signed zero, exactly as vcvtne2ps2bf16 converts.
uint16_t ck_bf16_from_float(float value);
/// bf16 bits → fp32 (exact).
float ck_float_from_bf16(uint16_t bits);
/// `count` values through `kernel`'s converter (the AVX-512 one is the instruction itself).
void ck_bf16_convert(ck_bf16_kernel kernel, const float *source, uint16_t *destination, size_t count);

/// Rows of C one microkernel call computes; packed weights are zero-padded to a multiple of it.
size_t ck_bf16_tile_rows(void);
/// Length, in 32-bit pairs, of the packed form of a rows × depth matrix.
size_t ck_bf16_packed_pairs(size_t rows, size_t depth);
/// Rounds the row-major fp32 matrix `a` (rows × depth, row stride `lda`) to bf16 and packs it
/// into `packed` (ck_bf16_packed_pairs long): tile after tile of ck_bf16_tile_rows rows, inside a
/// tile k-pair after k-pair, inside a pair one 32-bit word per row holding (a[r][k], a[r][k+1]).
void ck_bf16_pack_weights(const float *a, size_t lda, size_t rows, size_t depth, uint32_t *packed);

/// Bytes of scratch `ck_bf16_gemm` needs, for either kernel; it must be 64-byte aligned.
size_t ck_bf16_scratch_bytes(size_t depth);

/// C[rows × columns] = A·B (+ C when `accumulate`), A packed by ck_bf16_pack_weights, B fp32
/// row-major depth × columns (row stride `ldb`), rounded to bf16 as it is packed into `scratch`;
/// products accumulate in fp32. Single-threaded; calls on disjoint C with their own scratch may
/// run at the same time.
void ck_bf16_gemm(ck_bf16_kernel kernel, const uint32_t *packed, size_t rows, size_t depth,
                  const float *b, size_t ldb, size_t columns, float *c, size_t ldc, int accumulate,
                  void *scratch);

// MARK: - Fused Winograd F(4×4, 3×3) (winograd.c)

/// The builds of the fused kernels (`ck_winograd_run`, `ck_upsample_run`): one C body each,
/// compiled for three instruction sets.
typedef enum {
    CK_BUILD_PORTABLE = 0,   // for the baseline CPU (no fused multiply-add)
    CK_BUILD_AVX2 = 1,       // AVX2 + FMA; only where ck_cpu_has_avx2_fma() returns 1
    CK_BUILD_AVX512 = 2,     // AVX-512F; only where ck_cpu_has_avx512f() returns 1
} ck_build;

/// 1 when the CPU has AVX512F and the OS saves the AVX-512 registers, else 0 (always 0 off x86-64).
int ck_cpu_has_avx512f(void);
/// 1 when the CPU has AVX2 and FMA and the OS saves the AVX registers, else 0 (always 0 off x86-64).
int ck_cpu_has_avx2_fma(void);

/// One 3×3 convolution (stride 1, zero padding 1, no bias) of planar maps.
typedef struct {
    const float *const *planes;   // in_channels input planes, frames × bins each
    const float *scale;           // per input channel: y = scale·x + offset, then max(y, slope·y),
    const float *offset;          //   applied before the convolution; scale NULL: no activation
    float slope;                  //   (0 ≤ slope ≤ 1)
    size_t in_channels, out_channels, frames, bins;
    const float *weights;         // ck_winograd_pack_weights's output
    float *output;                // out_channels planes, frames × bins each
    int streaming;                // nonzero: write the output past the caches (for maps much larger than them)
    // A residual added to the output (a ResNet block's), or none when residual_planes is NULL:
    const float *const *residual_planes;   // residual_channels planes, frames × bins each
    size_t residual_channels;
    const float *residual_weights;         // a 1×1 convolution (ck_winograd_pack_shortcut's output),
    const float *residual_bias;            //   plus out_channels biases; NULL: the planes themselves
                                           //   (then residual_channels == out_channels)
    float *pooled;                // NULL, or out_channels planes of ⌊frames/2⌋ × ⌊bins/2⌋ for the output's
                                  //   2 × 2 average pool (AvgPool2d: an odd last row or bin is dropped)
    // Row bands (a map held only in part): frames stay the whole map's, for its zero padding.
    const size_t *plane_origins;  // NULL, or per input plane the frame its row 0 holds (frame f at
                                  //   planes[c] + (f − plane_origins[c])·bins)
    const size_t *residual_origins;   // the same for the residual planes (NULL: all 0)
    size_t output_origin;         // the frame the output's row 0 holds (0 for a whole map), and
    size_t output_frames;         //   the frames each output plane holds (0: frames)
} ck_winograd_layer;

/// Tiles (4 × 4 outputs each) one `ck_winograd_run` call computes at most.
size_t ck_winograd_block_tiles(void);
/// Length of the packed weights of an out × in layer.
size_t ck_winograd_packed_floats(size_t out_channels, size_t in_channels);
/// Packs U (`u`: [36 points][out][in], the transformed weights) for the microkernel: blocks of
/// 8 output channels (the last zero-padded), inside a block point after point, inside a point
/// input channel after input channel, 8 values each.
void ck_winograd_pack_weights(const float *u, size_t out_channels, size_t in_channels, float *packed);
/// Length of a packed out × in 1×1 convolution.
size_t ck_winograd_packed_shortcut_floats(size_t out_channels, size_t in_channels);
/// Packs a 1×1 convolution's `w` ([out][in]) as the residual's products read it: blocks of 8
/// output channels (the last zero-padded), inside a block input channel after input channel.
void ck_winograd_pack_shortcut(const float *w, size_t out_channels, size_t in_channels, float *packed);
/// Floats of scratch one call needs (residual_channels: 0 without a 1×1 shortcut).
size_t ck_winograd_scratch_floats(size_t in_channels, size_t residual_channels);
/// Computes the output tiles first_tile ..< first_tile + tiles (tiles ≤ ck_winograd_block_tiles(),
/// raster order: tile row by tile row of ⌈bins / 4⌉ tiles). Calls on disjoint tiles with their
/// own scratch may run at the same time.
void ck_winograd_run(ck_build build, const ck_winograd_layer *layer, size_t first_tile, size_t tiles,
                     float *scratch);

// MARK: - Upsampling (upsample.c)

/// A transposed convolution whose kernel equals its stride (no overlap, no bias) of planar maps.
typedef struct {
    const float *input;           // in_channels planes, frames × bins each
    const float *scale;           // per input channel: y = scale·x + offset, then max(y, slope·y),
    const float *offset;          //   applied first; scale NULL: no activation
    float slope;
    size_t in_channels, out_channels, frames, bins, kernel_frames, kernel_bins;
    const float *weights;         // ck_upsample_pack_weights's output
    float *output;                // out_channels planes of (frames·kernel_frames) × (bins·kernel_bins)
    int streaming;                // nonzero: write the output past the caches
    size_t output_origin;         // row bands: the output frame row 0 holds (0 for a whole map), and
    size_t output_frames;         //   the output frames each plane holds (0: frames·kernel_frames)
} ck_upsample_layer;

/// Input pixels (of one frame) a block covers; blocks are numbered frame by frame, ⌈bins / that⌉ a frame.
size_t ck_upsample_block_pixels(void);
size_t ck_upsample_packed_floats(size_t in_channels, size_t out_channels, size_t kernel_frames, size_t kernel_bins);
/// Packs PyTorch's ConvTranspose2d weights `w` ([in][out][kt][kf]) for the microkernel.
void ck_upsample_pack_weights(const float *w, size_t in_channels, size_t out_channels, size_t kernel_frames,
                              size_t kernel_bins, float *packed);
/// Floats of scratch one call needs.
size_t ck_upsample_scratch_floats(size_t in_channels);
/// Computes the output patches of blocks first_block ..< first_block + blocks. Calls on disjoint
/// blocks with their own scratch may run at the same time.
void ck_upsample_run(ck_build build, const ck_upsample_layer *layer, size_t first_block, size_t blocks, float *scratch);


/// The polyphase resampler's outputs first ..< last: output n is the dot product of row
/// (n·down mod up) of `rows` (up rows of `taps` floats, taps a multiple of 16) with the `taps`
/// input samples from index ⌊n·down / up⌋, `input` holding the samples from index `origin` on.
/// Into output[0 ..< last − first]. AVX2 + FMA where the CPU has it, else portable C.
void ck_polyphase_run(const float *rows, size_t taps, size_t up, size_t down, const float *input, int64_t origin,
                      int64_t first, int64_t last, float *output);

/// Applies comparators to whole rows of `length` floats: for each pair (a, b) of `pairs`
/// (`count` pairs, 2·count ints), row a gets the columnwise minimum and row b the maximum.
void ck_median_network(float *rows, size_t length, const int32_t *pairs, size_t count);
#endif
