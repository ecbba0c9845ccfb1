// Private to CKernels: the 16-lane vector type the fused kernels are written in, its helpers, and
// the 8 × 32 microkernel they share. Every function here is always inlined into one of the
// builds each kernel file makes (AVX-512F, AVX2 + FMA, portable), so it is compiled for that
// instruction set and no vector ever crosses a call: the ABI clang warns about (AVX-512 vectors
// passed by a function compiled without AVX-512) never applies.
#ifndef CKERNELS_VECTORS_H
#define CKERNELS_VECTORS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#pragma clang diagnostic ignored "-Wpsabi"
#define INLINE static inline __attribute__((always_inline))

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
typedef int vi16 __attribute__((vector_size(64)));

enum {
    PRODUCT_ROWS = 8,       // rows of C per microkernel call (weights are packed in groups of 8)
    PRODUCT_COLUMNS = 32,   // columns of C per call: two vectors
};

INLINE v16 load(const float *p) { return *(const v16u *)p; }
INLINE void store(float *p, v16 v) { *(v16u *)p = v; }
INLINE v16 splat(float x) { return (v16){0} + x; }

/// Loads `count` (< 16) floats, zero in the other lanes.
INLINE v16 partial(const float *p, size_t count) {
    float lanes[16] = {0};
    for (size_t i = 0; i < count; i++) lanes[i] = p[i];
    return load(lanes);
}

/// Stores the first `count` (< 16) lanes.
INLINE void store_part(float *p, v16 v, size_t count) {
    float lanes[16];
    store(lanes, v);
    for (size_t i = 0; i < count; i++) p[i] = lanes[i];
}

/// Leaky ReLU after the affine map, as a compare and a blend (the elementwise max builtin also
/// sorts out NaNs, which takes three instructions more).
INLINE v16 activate(v16 x, v16 scale, v16 offset, v16 slope) {
    v16 y = x * scale + offset, z = y * slope;
    vi16 larger = y > z;
    return (v16)(((vi16)y & larger) | ((vi16)z & ~larger));
}

/// The same for one float.
INLINE float activate1(float x, float scale, float offset, float slope) {
    float y = scale * x + offset;
    return y > y * slope ? y : y * slope;
}

/// Groups of PRODUCT_ROWS in `rows`.
static inline size_t row_groups(size_t rows) { return (rows + PRODUCT_ROWS - 1) / PRODUCT_ROWS; }

/// Packs the row-major `a` (rows × depth, row stride `lda`) for `product`: groups of 8 rows (the
/// last zero-padded), inside a group the depth k after k, 8 values each.
static inline void pack_rows(const float *a, size_t lda, size_t rows, size_t depth, float *packed) {
    for (size_t group = 0; group < row_groups(rows); group++)
        for (size_t k = 0; k < depth; k++)
            for (size_t r = 0; r < PRODUCT_ROWS; r++) {
                size_t row = group * PRODUCT_ROWS + r;
                packed[(group * depth + k) * PRODUCT_ROWS + r] = row < rows ? a[row * lda + k] : 0;
            }
}

/// C = A·B for 8 rows and 32 columns: u is one group of A packed by `pack_rows` ([depth][8]),
/// B's row k is the 32 floats at v + k·v_row, C's row r goes to m + r·m_row.
/// Wide (AVX-512, 32 zmm registers): the whole 8 × 32 tile in 16 accumulators, two loads of B
/// and eight broadcasts of A per 16 multiply-adds. Narrow (16 ymm or xmm registers): four 4 × 16
/// quarters, each in 4 accumulators (8 ymm), one load and four broadcasts per 4 multiply-adds.
INLINE void product(const float *u, const float *v, size_t v_row, size_t depth, float *m, size_t m_row, int wide) {
    if (wide) {
        v16 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
        v16 c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0}, c60 = {0}, c61 = {0}, c70 = {0}, c71 = {0};
        for (size_t k = 0; k < depth; k++) {
            v16 b0 = load(v + k * v_row), b1 = load(v + k * v_row + 16);
            const float *a = u + k * PRODUCT_ROWS;
#define ROW(r) { v16 x = splat(a[r]); c##r##0 += x * b0; c##r##1 += x * b1; }
            ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
        }
#define STORE(r) store(m + r * m_row, c##r##0); store(m + r * m_row + 16, c##r##1);
        STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)
#undef STORE
        return;
    }
    for (size_t quarter = 0; quarter < 4; quarter++) {
        const size_t rows = 4 * (quarter / 2), half = 16 * (quarter % 2);
        v16 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
        for (size_t k = 0; k < depth; k++) {
            v16 b = load(v + k * v_row + half);
            const float *a = u + k * PRODUCT_ROWS + rows;
            c0 += splat(a[0]) * b; c1 += splat(a[1]) * b; c2 += splat(a[2]) * b; c3 += splat(a[3]) * b;
        }
        float *out = m + rows * m_row + half;
        store(out, c0); store(out + m_row, c1); store(out + 2 * m_row, c2); store(out + 3 * m_row, c3);
    }
}

// Lane shuffles between the layout of a map's row (consecutive bins) and the layouts the
// kernels compute in. `a` and `b` are read as one 32-float sequence (a's lanes, then b's).

/// Interleaves two vectors lane by lane: (a0, b0, a1, b1, …), 32 floats into `out[0..1]`.
INLINE void interleave(v16 a, v16 b, v16 *out) {
    out[0] = __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    out[1] = __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
}

/// Interleaves two vectors pair by pair: (a0, a1, b0, b1, a2, a3, b2, b3, …) into `out[0..1]`.
INLINE void interleave_pairs(v16 a, v16 b, v16 *out) {
    out[0] = __builtin_shufflevector(a, b, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    out[1] = __builtin_shufflevector(a, b, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
}

/// The inverse of `interleave`: the even floats of the sequence into out[0], the odd into out[1].
INLINE void deinterleave(v16 a, v16 b, v16 *out) {
    out[0] = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    out[1] = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

/// The inverse of `interleave_pairs`: pairs 0, 2, 4, … into out[0], pairs 1, 3, 5, … into out[1].
INLINE void deinterleave_pairs(v16 a, v16 b, v16 *out) {
    out[0] = __builtin_shufflevector(a, b, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
    out[1] = __builtin_shufflevector(a, b, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
}

/// Defines `void entry(ck_build, const layer_type *, size_t first, size_t count, float *scratch)`,
/// which runs the file's always-inlined `run(layer, first, count, scratch, wide)` compiled for
/// the build asked for: AVX-512F (wide), AVX2 + FMA or the baseline (narrow). Builds for x86-64
/// instruction sets exist only on x86-64; elsewhere every build runs the portable one.
#if defined(__x86_64__)
#define CK_X86_BUILDS(entry, layer_type)                                                                  \
    __attribute__((target("avx512f")))                                                                    \
    static void entry##_avx512(const layer_type *layer, size_t first, size_t count, float *scratch) {     \
        run(layer, first, count, scratch, 1);                                                             \
    }                                                                                                     \
    __attribute__((target("avx2,fma")))                                                                   \
    static void entry##_avx2(const layer_type *layer, size_t first, size_t count, float *scratch) {       \
        run(layer, first, count, scratch, 0);                                                             \
    }
#define CK_X86_DISPATCH(entry)                                                                            \
    if (build == CK_BUILD_AVX512) { entry##_avx512(layer, first, count, scratch); return; }               \
    if (build == CK_BUILD_AVX2) { entry##_avx2(layer, first, count, scratch); return; }
#else
#define CK_X86_BUILDS(entry, layer_type)
#define CK_X86_DISPATCH(entry)
#endif

#define CK_DEFINE_BUILDS(entry, layer_type)                                                               \
    static void entry##_portable(const layer_type *layer, size_t first, size_t count, float *scratch) {   \
        run(layer, first, count, scratch, 0);                                                             \
    }                                                                                                     \
    CK_X86_BUILDS(entry, layer_type)                                                                      \
    void entry(ck_build build, const layer_type *layer, size_t first, size_t count, float *scratch) {     \
        CK_X86_DISPATCH(entry)                                                                            \
        entry##_portable(layer, first, count, scratch);                                                   \
    }

#endif
