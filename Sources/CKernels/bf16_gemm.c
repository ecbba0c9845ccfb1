// bfloat16 matrix multiply: C = A·B (+ C), A bf16 (packed once), B fp32 rounded to bf16 as it
// is packed, products accumulated in fp32.
//
// Blocking (both kernels): the depth is cut into blocks of DEPTH_PAIRS k-pairs. For each block
// the columns are walked in panels of PANEL_COLUMNS; each panel of B (128 pairs × 48 columns,
// 24 KiB as bf16) is packed into the caller's scratch, where it stays in L1 while every
// TILE_ROWS-row tile of A runs over it, and A's block (rows × 256 k, 128 KiB at 256 rows) stays
// in L2 across the panels. C is read and written once per depth block.
//
// The AVX-512 microkernel keeps an 8 × 48 tile of C in 24 zmm accumulators (enough independent
// chains to cover vdpbf16ps's latency). Per k-pair it loads three zmm of B, each holding 16
// columns as (B[k][j], B[k+1][j]) bf16 pairs, and for each of the 8 rows broadcasts A's pair
// (A[r][k], A[r][k+1]) from memory into vdpbf16ps, which adds a·b + a'·b' to each fp32 lane:
// 24 vdpbf16ps (1,536 flops) per 11 loads. The first tile of each panel converts B from fp32
// as it goes (fused packing), which keeps the conversion from costing much when there are
// few rows (32 rows: four tiles share one conversion).
//
// Tuned on Zen 4 (the CPU this was written for); the tile sizes are the enum below.

#include "CKernels.h"

#include <string.h>

enum {
    TILE_ROWS = 8,        // rows of C per microkernel call
    PANEL_VECTORS = 3,    // zmm of 16 columns per row of the tile
    PANEL_COLUMNS = 16 * PANEL_VECTORS,
    DEPTH_PAIRS = 128,    // k-pairs (256 k) per depth block
};

// MARK: - Scalar bf16

uint16_t ck_bf16_from_float(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    uint32_t exponent = bits & 0x7f800000u;
    if (exponent == 0x7f800000u) {
        // ±inf keeps its top half; a NaN keeps its sign and top payload and gets the quiet bit,
        // so one whose payload was all in the dropped half is still a NaN.
        return (uint16_t)(bits >> 16) | ((bits & 0x007fffffu) ? 0x0040u : 0u);
    }
    if (exponent == 0) return (uint16_t)((bits >> 16) & 0x8000u);    // zero, subnormal → ±0
    // Round to nearest even on the dropped half; a carry into the exponent is correct rounding
    // (up to the next binade, or to inf above bf16's largest finite value).
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

float ck_float_from_bf16(uint16_t bits) {
    uint32_t wide = (uint32_t)bits << 16;
    float value;
    memcpy(&value, &wide, sizeof value);
    return value;
}

static uint32_t pair(float low, float high) {
    return (uint32_t)ck_bf16_from_float(low) | (uint32_t)ck_bf16_from_float(high) << 16;
}

// MARK: - Packing A

size_t ck_bf16_tile_rows(void) { return TILE_ROWS; }

static size_t depth_pairs(size_t depth) { return (depth + 1) / 2; }

size_t ck_bf16_packed_pairs(size_t rows, size_t depth) {
    size_t tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
    return tiles * TILE_ROWS * depth_pairs(depth);
}

void ck_bf16_pack_weights(const float *a, size_t lda, size_t rows, size_t depth, uint32_t *packed) {
    size_t pairs = depth_pairs(depth);
    size_t tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
    for (size_t tile = 0; tile < tiles; tile++) {
        uint32_t *out = packed + tile * TILE_ROWS * pairs;
        for (size_t p = 0; p < pairs; p++) {
            size_t k = 2 * p;
            for (size_t r = 0; r < TILE_ROWS; r++) {
                size_t row = tile * TILE_ROWS + r;
                // Rows past the end and the odd depth's missing partner are zeros.
                float low = row < rows ? a[row * lda + k] : 0;
                float high = row < rows && k + 1 < depth ? a[row * lda + k + 1] : 0;
                out[p * TILE_ROWS + r] = pair(low, high);
            }
        }
    }
}

size_t ck_bf16_scratch_bytes(size_t depth) {
    size_t pairs = depth_pairs(depth);
    if (pairs > DEPTH_PAIRS) pairs = DEPTH_PAIRS;
    if (pairs == 0) pairs = 1;
    // The portable kernel's panel is fp32 (two floats per pair and column), the larger one.
    return pairs * PANEL_COLUMNS * 2 * sizeof(float);
}

// MARK: - Portable kernel

// B panel as fp32: per pair, row k's PANEL_COLUMNS values then row k+1's, already rounded to
// bf16, zero past the last column and for the odd depth's missing row.
static void portable_pack_b(const float *b, size_t ldb, size_t depth, size_t k0, size_t pairs,
                            size_t columns, float *panel) {
    for (size_t p = 0; p < pairs; p++) {
        for (size_t half = 0; half < 2; half++) {
            size_t k = k0 + 2 * p + half;
            float *out = panel + (2 * p + half) * PANEL_COLUMNS;
            for (size_t j = 0; j < PANEL_COLUMNS; j++)
                out[j] = k < depth && j < columns ? ck_float_from_bf16(ck_bf16_from_float(b[k * ldb + j])) : 0;
        }
    }
}

static void portable_tile(const uint32_t *a, const float *panel, size_t pairs, float *c, size_t ldc,
                          size_t rows, size_t columns, int accumulate) {
    float acc[TILE_ROWS][PANEL_COLUMNS] = {{0}};
    for (size_t p = 0; p < pairs; p++) {
        const float *low = panel + 2 * p * PANEL_COLUMNS, *high = low + PANEL_COLUMNS;
        for (size_t r = 0; r < TILE_ROWS; r++) {
            uint32_t ar = a[p * TILE_ROWS + r];
            float a0 = ck_float_from_bf16((uint16_t)ar), a1 = ck_float_from_bf16((uint16_t)(ar >> 16));
            for (size_t j = 0; j < PANEL_COLUMNS; j++) acc[r][j] += a0 * low[j] + a1 * high[j];
        }
    }
    for (size_t r = 0; r < TILE_ROWS && r < rows; r++)
        for (size_t j = 0; j < columns; j++)
            c[r * ldc + j] = accumulate ? c[r * ldc + j] + acc[r][j] : acc[r][j];
}

// MARK: - AVX-512 BF16 kernel

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

CK_AVX512 static __mmask16 column_mask(size_t columns, size_t vector) {
    size_t first = 16 * vector;
    if (columns <= first) return 0;
    size_t count = columns - first;
    return count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1);
}

// Two rows of 16 floats → 16 (low, high) bf16 pairs. vcvtne2ps2bf16 puts the second operand's
// 16 conversions in words 0-15 and the first's in 16-31; vpermw interleaves them.
CK_AVX512 static __m512i pack_pairs(__m512 low, __m512 high) {
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(high, low));
}

// One TILE_ROWS × PANEL_COLUMNS tile of C from `pairs` k-pairs of A's tile and of the B panel.
// The panel's first tile is called with `packing`: it reads B's fp32 rows k0, k0+1, … from
// `source`, converts them and stores the panel (per pair, PANEL_VECTORS zmm of 16
// (B[k][j], B[k+1][j]) words) as it multiplies, so that the conversion overlaps the
// multiplies; the panel's other tiles only load it.
CK_AVX512 static inline __attribute__((always_inline)) void
avx512_tile(const uint32_t *a, __m512i *panel, size_t pairs, int packing, const float *source, size_t ldb,
            size_t depth, size_t k0, float *c, size_t ldc, size_t rows, size_t columns, int accumulate) {
    __mmask16 masks[PANEL_VECTORS];
    for (size_t v = 0; v < PANEL_VECTORS; v++) masks[v] = column_mask(columns, v);
    __m512 acc[TILE_ROWS][PANEL_VECTORS];
    for (size_t r = 0; r < TILE_ROWS; r++)
        for (size_t v = 0; v < PANEL_VECTORS; v++) acc[r][v] = _mm512_setzero_ps();
    for (size_t p = 0; p < pairs; p++) {
        __m512i b[PANEL_VECTORS];
        if (packing) {
            size_t k = k0 + 2 * p;
            int hasHigh = k + 1 < depth;   // an odd depth's last pair has a zero partner
            const float *low = source + k * ldb, *high = hasHigh ? low + ldb : low;
            for (size_t v = 0; v < PANEL_VECTORS; v++) {
                __m512 l = _mm512_maskz_loadu_ps(masks[v], low + 16 * v);
                __m512 h = hasHigh ? _mm512_maskz_loadu_ps(masks[v], high + 16 * v) : _mm512_setzero_ps();
                b[v] = pack_pairs(l, h);
                _mm512_store_si512(panel + p * PANEL_VECTORS + v, b[v]);
            }
        } else {
            for (size_t v = 0; v < PANEL_VECTORS; v++) b[v] = _mm512_load_si512(panel + p * PANEL_VECTORS + v);
        }
        // Fully unrolled, so that the accumulators live in registers (clang leaves a 12-row loop
        // rolled without the pragma, with the tile in memory). A's pair is broadcast into a
        // register once per row: vdpbf16ps with an embedded {1to16} memory broadcast ran at half
        // speed on Zen 4.
#pragma clang loop unroll(full)
        for (size_t r = 0; r < TILE_ROWS; r++) {
            __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[p * TILE_ROWS + r]);
#pragma clang loop unroll(full)
            for (size_t v = 0; v < PANEL_VECTORS; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)b[v], ar);
        }
    }
    for (size_t r = 0; r < TILE_ROWS && r < rows; r++) {
        for (size_t v = 0; v < PANEL_VECTORS; v++) {
            float *out = c + r * ldc + 16 * v;
            __m512 sum = accumulate ? _mm512_add_ps(acc[r][v], _mm512_maskz_loadu_ps(masks[v], out)) : acc[r][v];
            _mm512_mask_storeu_ps(out, masks[v], sum);
        }
    }
}

// One depth block of one column panel: every row tile, the first packing the panel.
CK_AVX512 static void avx512_panel(const uint32_t *a, size_t tileStride, size_t rows, __m512i *panel, size_t pairs,
                                   const float *source, size_t ldb, size_t depth, size_t k0, float *c, size_t ldc,
                                   size_t columns, int accumulate) {
    avx512_tile(a, panel, pairs, 1, source, ldb, depth, k0, c, ldc, rows, columns, accumulate);
    for (size_t i = TILE_ROWS; i < rows; i += TILE_ROWS)
        avx512_tile(a + i / TILE_ROWS * tileStride, panel, pairs, 0, source, ldb, depth, k0, c + i * ldc, ldc,
                    rows - i, columns, accumulate);
}

CK_AVX512 static void avx512_convert(const float *source, uint16_t *destination, size_t count) {
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 mask = column_mask(count - i, 0);
        __m256bh words = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, source + i));
        _mm256_mask_storeu_epi16(destination + i, mask, (__m256i)words);
    }
}

#endif

// MARK: - Driver

void ck_bf16_convert(ck_bf16_kernel kernel, const float *source, uint16_t *destination, size_t count) {
#if defined(__x86_64__)
    if (kernel == CK_BF16_AVX512) { avx512_convert(source, destination, count); return; }
#else
    (void)kernel;   // only the portable kernel exists here
#endif
    for (size_t i = 0; i < count; i++) destination[i] = ck_bf16_from_float(source[i]);
}

// Each tile call is passed the rows from its first to the end of C and stores at most
// TILE_ROWS of them (fewer only in the last tile).
void ck_bf16_gemm(ck_bf16_kernel kernel, const uint32_t *packed, size_t rows, size_t depth,
                  const float *b, size_t ldb, size_t columns, float *c, size_t ldc, int accumulate,
                  void *scratch) {
#if !defined(__x86_64__)
    (void)kernel;   // only the portable kernel exists here
#endif
    size_t pairs = depth_pairs(depth);
    if (pairs == 0) {
        // An empty product: C = 0 (+ C).
        if (!accumulate)
            for (size_t r = 0; r < rows; r++) memset(c + r * ldc, 0, columns * sizeof(float));
        return;
    }
    size_t tileStride = TILE_ROWS * pairs;   // pairs between consecutive row tiles of A
    for (size_t p0 = 0; p0 < pairs; p0 += DEPTH_PAIRS) {
        size_t blockPairs = pairs - p0 < DEPTH_PAIRS ? pairs - p0 : DEPTH_PAIRS;
        int add = accumulate || p0 > 0;
        for (size_t j = 0; j < columns; j += PANEL_COLUMNS) {
            size_t panelColumns = columns - j < PANEL_COLUMNS ? columns - j : PANEL_COLUMNS;
#if defined(__x86_64__)
            if (kernel == CK_BF16_AVX512) {
                avx512_panel(packed + p0 * TILE_ROWS, tileStride, rows, scratch, blockPairs, b + j, ldb, depth,
                             2 * p0, c + j, ldc, panelColumns, add);
                continue;
            }
#endif
            portable_pack_b(b + j, ldb, depth, 2 * p0, blockPairs, panelColumns, scratch);
            for (size_t i = 0; i < rows; i += TILE_ROWS)
                portable_tile(packed + i / TILE_ROWS * tileStride + p0 * TILE_ROWS, scratch, blockPairs,
                              c + i * ldc + j, ldc, rows - i, panelColumns, add);
        }
    }
}
