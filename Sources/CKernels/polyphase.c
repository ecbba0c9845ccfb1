// The stream's polyphase sample-rate converter (Stream's PolyphaseResampler.swift): every output
// a call completes, each the dot product of one tabulated phase of the filter with the input
// under it (AVX2 + FMA where the CPU has it: four 8-lane accumulators, two loads a multiply-add).

#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static void run_avx2(const float *rows, size_t taps, size_t up, size_t down, const float *input, int64_t origin,
                     int64_t first, int64_t last, float *output) {
    for (int64_t n = first; n < last; n++) {
        const int64_t position = n * (int64_t)down;
        const float *x = input + (position / (int64_t)up - origin), *c = rows + (size_t)(position % (int64_t)up) * taps;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 32 <= taps; i += 32) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(c + i), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(c + i + 8), s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(c + i + 16), s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(c + i + 24), s3);
        }
        for (; i < taps; i += 16) {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(c + i), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(c + i + 8), s1);
        }
        __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
        output[n - first] = _mm_cvtss_f32(h);
    }
}
#endif

static void run_portable(const float *rows, size_t taps, size_t up, size_t down, const float *input, int64_t origin,
                         int64_t first, int64_t last, float *output) {
    for (int64_t n = first; n < last; n++) {
        const int64_t position = n * (int64_t)down;
        const float *x = input + (position / (int64_t)up - origin), *c = rows + (size_t)(position % (int64_t)up) * taps;
        float s[8] = {0};
        for (size_t i = 0; i < taps; i += 8)
            for (size_t k = 0; k < 8; k++) s[k] += x[i + k] * c[i + k];
        output[n - first] = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    }
}

void ck_polyphase_run(const float *rows, size_t taps, size_t up, size_t down, const float *input, int64_t origin,
                      int64_t first, int64_t last, float *output) {
#if defined(__x86_64__)
    static int avx2 = -1;
    if (avx2 < 0) avx2 = ck_cpu_has_avx2_fma();
    if (avx2) { run_avx2(rows, taps, up, down, input, origin, first, last, output); return; }
#endif
    run_portable(rows, taps, up, down, input, origin, first, last, output);
}
