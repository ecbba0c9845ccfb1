// What this CPU can run, from cpuid and, for the vector registers, whether the OS saves them
// (XCR0 through xgetbv). Off x86-64 every answer is 0.

#include "CKernels.h"

#if defined(__x86_64__)
#include <cpuid.h>

/// Whether the OS saves the registers XCR0's `mask` names (bits: 1 SSE, 2 AVX, 5 opmask,
/// 6 ZMM0-15 upper halves, 7 ZMM16-31).
static int os_saves(unsigned mask) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) return 0;   // OSXSAVE
    uint32_t xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    return (xcr0_low & mask) == mask;
}

/// Leaf 7 subleaf 0's EBX (0 where leaf 7 does not exist); `subleaves` gets its EAX, the highest subleaf.
static unsigned leaf7_ebx(unsigned *subleaves) {
    unsigned eax, ebx, ecx, edx;
    *subleaves = 0;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    *subleaves = eax;
    return ebx;
}

int ck_cpu_has_avx512f(void) {
    unsigned subleaves;
    return os_saves(0xe6u) && ((leaf7_ebx(&subleaves) >> 16) & 1);                 // AVX512F
}

int ck_cpu_has_avx2_fma(void) {
    unsigned eax, ebx, ecx, edx, subleaves;
    if (!os_saves(0x6u) || !__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (!(ecx & (1u << 28)) || !(ecx & (1u << 12))) return 0;                      // AVX, FMA
    return (leaf7_ebx(&subleaves) >> 5) & 1;                                        // AVX2
}

int ck_cpu_has_avx512bf16(void) {
    unsigned subleaves, eax, ebx, ecx, edx;
    if (!os_saves(0xe6u)) return 0;
    unsigned needed = 1u << 16 | 1u << 30 | 1u << 31;                               // AVX512F, BW, VL
    if ((leaf7_ebx(&subleaves) & needed) != needed || subleaves < 1) return 0;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    return (eax >> 5) & 1;                                                          // AVX512_BF16
}
#else
int ck_cpu_has_avx512f(void) { return 0; }
int ck_cpu_has_avx2_fma(void) { return 0; }
int ck_cpu_has_avx512bf16(void) { return 0; }
#endif
