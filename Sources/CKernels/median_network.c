// The built-in engine's median networks: each comparator is a min and a max over two whole rows
// (AVX2 where the CPU has it: one vminps and one vmaxps per 8 columns).

#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Columns are taken in blocks small enough that a block of every row stays in L1 through the
// whole network (31 rows of 128 columns: 16 KB).
#define BLOCK 128

__attribute__((target("avx2")))
static void network_avx2_block(float *rows, size_t length, size_t width, const int32_t *pairs, size_t count) {
    for (size_t c = 0; c < count; c++) {
        float *low = rows + (size_t)pairs[2 * c] * length, *high = rows + (size_t)pairs[2 * c + 1] * length;
        size_t i = 0;
        for (; i + 8 <= width; i += 8) {
            __m256 x = _mm256_loadu_ps(low + i), y = _mm256_loadu_ps(high + i);
            _mm256_storeu_ps(low + i, _mm256_min_ps(x, y));
            _mm256_storeu_ps(high + i, _mm256_max_ps(x, y));
        }
        for (; i < width; i++) {
            float x = low[i], y = high[i];
            low[i] = y < x ? y : x;
            high[i] = y < x ? x : y;
        }
    }
}

__attribute__((target("avx2")))
static void network_avx2(float *rows, size_t length, const int32_t *pairs, size_t count) {
    for (size_t first = 0; first < length; first += BLOCK) {
        size_t width = length - first < BLOCK ? length - first : BLOCK;
        network_avx2_block(rows + first, length, width, pairs, count);
    }
}
#endif

static void network_portable(float *rows, size_t length, const int32_t *pairs, size_t count) {
    for (size_t c = 0; c < count; c++) {
        float *low = rows + (size_t)pairs[2 * c] * length, *high = rows + (size_t)pairs[2 * c + 1] * length;
        for (size_t i = 0; i < length; i++) {
            float x = low[i], y = high[i];
            low[i] = y < x ? y : x;
            high[i] = y < x ? x : y;
        }
    }
}

void ck_median_network(float *rows, size_t length, const int32_t *pairs, size_t count) {
#if defined(__x86_64__)
    static int avx2 = -1;
    if (avx2 < 0) avx2 = ck_cpu_has_avx2_fma();
    if (avx2) { network_avx2(rows, length, pairs, count); return; }
#endif
    network_portable(rows, length, pairs, count);
}
