// The decoder's upsampling: a transposed convolution whose kernel equals its stride (no overlap,
// no bias), of the input activated first (BatchNorm + FiLM + leaky ReLU). Each input pixel
// becomes one kt × kf patch of every output channel: Y[(out, i, j)][pixel] = Σ_in W[in][(out, i, j)]·x[in][pixel].
//
// A call does blocks of 32 input pixels of one frame: their activated input (in × 32, a few KB)
// is staged once, each group of 8 rows of Wᵀ multiplies it on the shared 8 × 32 microkernel,
// and the 8 × 32 products are scattered straight into the output rows (with kf = 2, a pair of
// rows (j = 0, 1) interleaves into 64 consecutive output bins). Nothing larger than a block is
// stored between the steps. Compiled for AVX-512F, AVX2 + FMA and any CPU, as winograd.c.

#include "CKernels.h"
#include "vectors.h"

enum { BLOCK_PIXELS = PRODUCT_COLUMNS };

size_t ck_upsample_block_pixels(void) { return BLOCK_PIXELS; }

static size_t patch_rows(const ck_upsample_layer *layer) {
    return layer->out_channels * layer->kernel_frames * layer->kernel_bins;
}

size_t ck_upsample_packed_floats(size_t in_channels, size_t out_channels, size_t kernel_frames, size_t kernel_bins) {
    return row_groups(out_channels * kernel_frames * kernel_bins) * PRODUCT_ROWS * in_channels;
}

void ck_upsample_pack_weights(const float *w, size_t in_channels, size_t out_channels, size_t kernel_frames,
                              size_t kernel_bins, float *packed) {
    // A = Wᵀ: row (out, i, j), column in; W is [in][out][kt][kf], so A[r][k] = w[k·rows + r].
    const size_t rows = out_channels * kernel_frames * kernel_bins;
    for (size_t group = 0; group < row_groups(rows); group++)
        for (size_t k = 0; k < in_channels; k++)
            for (size_t r = 0; r < PRODUCT_ROWS; r++) {
                size_t row = group * PRODUCT_ROWS + r;
                packed[(group * in_channels + k) * PRODUCT_ROWS + r] = row < rows ? w[k * rows + row] : 0;
            }
}

size_t ck_upsample_scratch_floats(size_t in_channels) {
    return in_channels * BLOCK_PIXELS + PRODUCT_ROWS * BLOCK_PIXELS;
}

INLINE void run(const ck_upsample_layer *layer, size_t first_block, size_t blocks, float *scratch, int wide) {
    const size_t in_channels = layer->in_channels, frames = layer->frames, bins = layer->bins;
    const size_t kt = layer->kernel_frames, kf = layer->kernel_bins, rows = patch_rows(layer);
    const size_t out_bins = bins * kf, out_plane = (layer->output_frames ? layer->output_frames : frames * kt) * out_bins;
    const size_t chunks = (bins + BLOCK_PIXELS - 1) / BLOCK_PIXELS;
    const int active = layer->scale != 0;
    float *x = scratch, *y = scratch + in_channels * BLOCK_PIXELS;
    for (size_t block = first_block; block < first_block + blocks; block++) {
        const size_t frame = block / chunks, first_bin = (block % chunks) * BLOCK_PIXELS;
        const size_t width = bins - first_bin < BLOCK_PIXELS ? bins - first_bin : BLOCK_PIXELS;
        // The block's input, activated (lanes past the map's last bin hold leaky(offset), never written out).
        for (size_t k = 0; k < in_channels; k++) {
            const float *source = layer->input + k * frames * bins + frame * bins + first_bin;
            v16 a = width >= 16 ? load(source) : partial(source, width);
            v16 b = width >= 32 ? load(source + 16) : width > 16 ? partial(source + 16, width - 16) : splat(0);
            if (active) {
                const v16 scale = splat(layer->scale[k]), offset = splat(layer->offset[k]), slope = splat(layer->slope);
                a = activate(a, scale, offset, slope);
                b = activate(b, scale, offset, slope);
            }
            store(x + k * BLOCK_PIXELS, a);
            store(x + k * BLOCK_PIXELS + 16, b);
        }
        for (size_t group = 0; group < row_groups(rows); group++) {
            product(layer->weights + group * in_channels * PRODUCT_ROWS, x, BLOCK_PIXELS, in_channels, y, BLOCK_PIXELS, wide);
            for (size_t r = 0; r < PRODUCT_ROWS && group * PRODUCT_ROWS + r < rows; r++) {
                const size_t row = group * PRODUCT_ROWS + r;
                const size_t channel = row / (kt * kf), i = (row / kf) % kt, j = row % kf;
                float *target = layer->output + channel * out_plane + (frame * kt + i - layer->output_origin) * out_bins + first_bin * kf;
                const float *products = y + r * BLOCK_PIXELS;
                if (kf == 2 && j == 0 && r + 1 < PRODUCT_ROWS && row + 1 < rows) {
                    // Rows (i, 0) and (i, 1): 64 consecutive output bins.
                    v16 out[4];
                    interleave(load(products), load(products + BLOCK_PIXELS), out);
                    interleave(load(products + 16), load(products + BLOCK_PIXELS + 16), out + 2);
                    if (width == BLOCK_PIXELS && layer->streaming && ((uintptr_t)target & 63) == 0) {
                        for (size_t q = 0; q < 4; q++) __builtin_nontemporal_store(out[q], (v16 *)(target + 16 * q));
                    } else if (width == BLOCK_PIXELS) {
                        for (size_t q = 0; q < 4; q++) store(target + 16 * q, out[q]);
                    } else {
                        float lanes[64];
                        for (size_t q = 0; q < 4; q++) store(lanes + 16 * q, out[q]);
                        memcpy(target, lanes, 2 * width * sizeof(float));
                    }
                    r++;   // the pair's second row is done
                    continue;
                }
                for (size_t p = 0; p < width; p++) target[p * kf + j] = products[p];
            }
        }
    }
#if defined(__x86_64__)
    if (layer->streaming) __builtin_ia32_sfence();
#endif
}

CK_DEFINE_BUILDS(ck_upsample_run, ck_upsample_layer)
