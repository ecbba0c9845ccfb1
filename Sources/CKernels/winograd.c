// Fused Winograd F(4×4, 3×3) convolution for the narrow U-Net levels.
//
// The Swift path (Engine's Winograd.swift) runs a layer in three phases over units of up to 512
// tiles: every input channel's transform V, then 36 OpenBLAS sgemms, then every output channel's
// transform. On the 32- and 64-channel levels that costs more in the transforms and in memory
// traffic (V and M are 2.25× the maps they come from, written and read back through L3) than in
// the products: sgemm with 32 rows and a depth of 32 is mostly packing.
//
// Here one call does a block of BLOCK_TILES (32) tiles from start to end while it stays in L2:
//  1. V[ξ][in][32] for the block: each input channel's six source rows are staged activated
//     (BatchNorm + FiLM + leaky ReLU fused in, zero outside the map) and split by bin modulo 4,
//     so that patch column l of 16 consecutive tiles is one vector; then Bᵀ d B in two passes.
//  2. For each block of TILE_ROWS (8) output channels: the 36 products M_ξ = U_ξ · V_ξ, an 8 × 32
//     tile in 16 vector accumulators (32 lanes a row: the block's tiles), weights broadcast from
//     their packed form; then Aᵀ M A for those 8 channels, in two passes, straight into the map.
//  3. Optionally the residual of a ResNet block, added as each output is written: the block's
//     input itself, or its 1×1 shortcut convolution (plus bias), whose input under the block is
//     staged once and whose products for the 8 channels run on the same microkernel.
//  4. Optionally the 2 × 2 average pool of the output (an encoder block's next input), from
//     the output's vectors as they are written.
// Threads run disjoint blocks; a block writes only its own 4×4 output squares. Maps larger than
// the caches are written with streaming stores (`streaming`), which skip reading each line in
// before overwriting it (a 32-channel level-0 layer alone, 89 instead of 103 ms a window).
//
// The body is written once with 16-lane vectors (clang's vector extension) and compiled three
// times: for AVX-512F, where a vector is one zmm register; for AVX2 + FMA, where it is two ymm;
// and for the x86-64 baseline (or any other CPU), where the compiler splits it into SSE or NEON
// registers. Only the products' register blocking differs between them (see `product`). The
// builds without FMA round slightly differently (multiply, then add).

#include "CKernels.h"
#include "vectors.h"

enum {
    BLOCK_TILES = PRODUCT_COLUMNS,   // tiles a call handles: two vectors of 16
    TILE_ROWS = PRODUCT_ROWS,        // output channels per microkernel tile
    POINTS = 36,          // 6 × 6 Winograd points
    WIDTH = 64,           // a staged row of one phase: 32 tiles + 1 + vector slack
};

// MARK: - Weights

size_t ck_winograd_block_tiles(void) { return BLOCK_TILES; }

static size_t channel_blocks(size_t out_channels) { return (out_channels + TILE_ROWS - 1) / TILE_ROWS; }

size_t ck_winograd_packed_floats(size_t out_channels, size_t in_channels) {
    return channel_blocks(out_channels) * TILE_ROWS * POINTS * in_channels;
}

void ck_winograd_pack_weights(const float *u, size_t out_channels, size_t in_channels, float *packed) {
    // Group by group of 8 output channels, point by point inside a group.
    for (size_t block = 0; block < channel_blocks(out_channels); block++)
        for (size_t point = 0; point < POINTS; point++) {
            float *target = packed + (block * POINTS + point) * in_channels * TILE_ROWS;
            const float *rows = u + point * out_channels * in_channels + block * TILE_ROWS * in_channels;
            size_t count = out_channels - block * TILE_ROWS < TILE_ROWS ? out_channels - block * TILE_ROWS : TILE_ROWS;
            pack_rows(rows, in_channels, count, in_channels, target);
        }
}

/// Floats from one point's V (or M) to the next: one cache line more than the data, so that the
/// 36 points do not all fall in the same L1 sets (with 32 input channels V's points would be 4 KiB
/// apart exactly, and storing a tile's 36 values thrashed one set).
static inline size_t v_stride(size_t in_channels) { return in_channels * BLOCK_TILES + 16; }
enum { M_STRIDE = TILE_ROWS * BLOCK_TILES + 16 };

/// The shortcut's outputs for one channel block: 8 channels × 4 rows × the block's 128 bins
/// (plus slack for rows that end mid-vector), and its input in the same layout, one "channel"
/// per input channel.
enum { R_ROW = 4 * BLOCK_TILES + 16, R_CHANNEL = 4 * R_ROW };

size_t ck_winograd_scratch_floats(size_t in_channels, size_t residual_channels) {
    return POINTS * v_stride(in_channels)            // V
         + POINTS * M_STRIDE                         // M for one channel block (the output transform's reads
                                                     //   past a row's tiles stay inside its point's padding)
         + 2 * 6 * 4 * WIDTH                         // staged rows and their Bᵀ (or the 24 rows of Aᵀ M)
         + TILE_ROWS * R_CHANNEL                     // the shortcut's outputs for one channel block
         + residual_channels * R_CHANNEL;            // the shortcut's input under the block
}

size_t ck_winograd_packed_shortcut_floats(size_t out_channels, size_t in_channels) {
    return channel_blocks(out_channels) * TILE_ROWS * in_channels;
}

void ck_winograd_pack_shortcut(const float *w, size_t out_channels, size_t in_channels, float *packed) {
    pack_rows(w, in_channels, out_channels, in_channels, packed);
}

// MARK: - Transforms

/// Bᵀ (points 0, ±1, ±2) applied to six vectors.
#define INPUT_TRANSFORM(s0, s1, s2, s3, s4, s5, r)                                   \
    do {                                                                              \
        v16 a_ = (s4) - (s2), b_ = (s3) - (s1);                                       \
        r[0] = 4 * (s0) - 5 * (s2) + (s4);                                            \
        r[1] = (s3) + (s4) - 4 * ((s1) + (s2));                                       \
        r[2] = (s4) - (s3) + 4 * ((s1) - (s2));                                       \
        r[3] = a_ + 2 * b_;                                                           \
        r[4] = a_ - 2 * b_;                                                           \
        r[5] = 4 * (s1) - 5 * (s3) + (s5);                                            \
    } while (0)

/// Aᵀ applied to six vectors.
#define OUTPUT_TRANSFORM(s0, s1, s2, s3, s4, s5, r)                                  \
    do {                                                                              \
        v16 a_ = (s1) + (s2), b_ = (s1) - (s2), c_ = (s3) + (s4), d_ = (s3) - (s4);   \
        r[0] = (s0) + a_ + c_;                                                        \
        r[1] = b_ + 2 * d_;                                                           \
        r[2] = a_ + 4 * c_;                                                           \
        r[3] = b_ + 8 * d_ + (s5);                                                    \
    } while (0)

typedef struct {
    size_t tile_row, first_column, count, offset;   // a run of tiles in one tile row, at `offset` in the block
} segment;

/// V for one input channel over one segment: V[ξ][channel][offset + j] at
/// v + ξ·v_stride(in_channels) + channel·BLOCK_TILES + offset + j.
INLINE void input_segment(const ck_winograd_layer *layer, size_t channel, segment s, float *v, float *stage) {
    const size_t frames = layer->frames, bins = layer->bins, in_channels = layer->in_channels;
    const size_t origin = layer->plane_origins ? layer->plane_origins[channel] : 0;
    const float *plane = layer->planes[channel];
    const int active = layer->scale != 0;
    const float scale1 = active ? layer->scale[channel] : 1, offset1 = active ? layer->offset[channel] : 0;
    const float slope1 = active ? layer->slope : 1;
    const v16 scale = splat(scale1), offset = splat(offset1), slope = splat(slope1);
    // Phase entries staged per row: the segment's tiles rounded up to whole vectors, and entry
    // `count` (phases 0 and 1: patch columns 4 and 5 of the last tile) if that leaves it out.
    const size_t staged = (s.count + 15) / 16 * 16, extra = staged == s.count;
    float *p = stage, *t = stage + 6 * 4 * WIDTH;
    const long first_bin = 4 * (long)s.first_column - 1;   // bin of patch column 0 of the first tile
    const vi16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (size_t i = 0; i < 6; i++) {
        float *row = p + i * 4 * WIDTH;
        long frame = 4 * (long)s.tile_row - 1 + (long)i;
        if (frame < 0 || frame >= (long)frames) {
            for (size_t q = 0; q < 4; q++) memset(row + q * WIDTH, 0, (staged + extra) * sizeof(float));
            continue;
        }
        const float *source = plane + ((size_t)frame - origin) * bins;
        if (i + 1 < 6 && channel + 1 < in_channels) {
            // The next channel's row, a few hundred cycles early: a block reads 6 × in short runs,
            // too many streams for the hardware prefetcher to follow.
            const size_t next_origin = layer->plane_origins ? layer->plane_origins[channel + 1] : 0;
            const float *next = layer->planes[channel + 1] + ((size_t)frame - next_origin) * bins + (first_bin < 0 ? 0 : first_bin);
            for (size_t line = 0; line < 4 * staged + 4; line += 16) __builtin_prefetch(next + line);
        }
        for (size_t j = 0; j < staged; j += 16) {
            long bin = first_bin + 4 * (long)j;   // 64 bins: 16 tiles' four phases
            v16 a, b, c, d;
            if (bin >= 0 && bin + 64 <= (long)bins) {
                a = load(source + bin); b = load(source + bin + 16); c = load(source + bin + 32); d = load(source + bin + 48);
                if (active) {
                    a = activate(a, scale, offset, slope); b = activate(b, scale, offset, slope);
                    c = activate(c, scale, offset, slope); d = activate(d, scale, offset, slope);
                }
            } else {
                // At the map's edges: the bins inside copied, activated, and the padding outside zeroed.
                float edge[64] = {0};
                long from = bin < 0 ? 0 : bin, to = bin + 64 > (long)bins ? (long)bins : bin + 64;
                if (to > from) memcpy(edge + (from - bin), source + from, (size_t)(to - from) * sizeof(float));
                for (long k = 0; k < 4; k++) {
                    vi16 at = lane + (int)(bin + 16 * k);
                    vi16 inside = (at >= 0) & (at < (int)bins);
                    v16 x = active ? activate(load(edge + 16 * k), scale, offset, slope) : load(edge + 16 * k);
                    store(edge + 16 * k, (v16)((vi16)x & inside));
                }
                a = load(edge); b = load(edge + 16); c = load(edge + 32); d = load(edge + 48);
            }
            // Split by bin modulo 4: first pairs of phases (0,1 | 2,3) for 8 tiles, then single phases for 16.
            v16 ab[2], cd[2], phase[2];
            deinterleave_pairs(a, b, ab);   // phases (0, 1) | (2, 3) of 8 tiles
            deinterleave_pairs(c, d, cd);
            deinterleave(ab[0], cd[0], phase);
            store(row + j, phase[0]);
            store(row + WIDTH + j, phase[1]);
            deinterleave(ab[1], cd[1], phase);
            store(row + 2 * WIDTH + j, phase[0]);
            store(row + 3 * WIDTH + j, phase[1]);
        }
        if (extra) {
            long bin = first_bin + 4 * (long)staged;
            for (size_t q = 0; q < 4; q++) {
                long at = bin + (long)q;
                row[q * WIDTH + staged] = at >= (long)bins ? 0 : active ? activate1(source[at], scale1, offset1, slope1) : source[at];
            }
        }
    }
    // Bᵀ down the six rows (time), every phase entry alike (the extra entry is the first lane of
    // one more vector, whose other lanes are never read)...
    for (size_t q = 0; q < 4; q++)
        for (size_t j = 0; j < staged + extra; j += 16) {
            const float *d = p + q * WIDTH + j;
            v16 r[6];
            INPUT_TRANSFORM(load(d), load(d + 4 * WIDTH), load(d + 8 * WIDTH), load(d + 12 * WIDTH),
                            load(d + 16 * WIDTH), load(d + 20 * WIDTH), r);
            float *out = t + q * WIDTH + j;
            for (size_t k = 0; k < 6; k++) store(out + k * 4 * WIDTH, r[k]);
        }
    // ...then B along the bins: patch column l of tile j is phase l mod 4, entry j + l / 4.
    const size_t point_stride = v_stride(in_channels);
    float *target = v + channel * BLOCK_TILES + s.offset;
    for (size_t k = 0; k < 6; k++) {
        const float *row = t + k * 4 * WIDTH;
        float *out = target + 6 * k * point_stride;
        for (size_t j = 0; j < s.count; j += 16) {
            v16 r[6];
            INPUT_TRANSFORM(load(row + j), load(row + WIDTH + j), load(row + 2 * WIDTH + j), load(row + 3 * WIDTH + j),
                            load(row + j + 1), load(row + WIDTH + j + 1), r);
            size_t left = s.count - j;
            if (left >= 16) {
                for (size_t n = 0; n < 6; n++) store(out + n * point_stride + j, r[n]);
            } else {
                for (size_t n = 0; n < 6; n++) store_part(out + n * point_stride + j, r[n], left);
            }
        }
    }
}

/// Y = Aᵀ M A for one output channel over one segment, cropped at the map's edges; M[ξ][offset + j]
/// at m + ξ·M_STRIDE + offset + j. With `residual`, adds the map it points to, plus `bias`: the
/// value for output row `row` and the segment's bin e at residual[row·residual_row + e]. With
/// the layer's `pooled`, also writes the 2 × 2 average pool of what it writes.
INLINE void output_segment(const ck_winograd_layer *layer, size_t channel, const float *m, segment s, float *stage,
                           const float *residual, size_t residual_row, float bias) {
    const size_t frames = layer->frames, bins = layer->bins;
    const size_t held = layer->output_frames ? layer->output_frames : frames;
    float *plane = layer->output + channel * held * bins;   // frame f at plane + (f − output_origin)·bins
    const size_t point_stride = M_STRIDE;
    // Aᵀ down the six rows of M: four output rows × six columns, each a run of the segment's tiles.
    for (size_t l = 0; l < 6; l++) {
        const float *c = m + l * point_stride + s.offset;
        for (size_t j = 0; j < s.count; j += 16) {
            v16 r[4];
            OUTPUT_TRANSFORM(load(c + j), load(c + 6 * point_stride + j), load(c + 12 * point_stride + j),
                             load(c + 18 * point_stride + j), load(c + 24 * point_stride + j), load(c + 30 * point_stride + j), r);
            for (size_t row = 0; row < 4; row++) store(stage + (row * 6 + l) * WIDTH + j, r[row]);
        }
    }
    // ...then Aᵀ along each: four phases (bins 4j + q), interleaved into 64 consecutive bins;
    // 16 tiles at a time, row after row, so that a pair of rows can be pooled from registers.
    const size_t first_frame = 4 * s.tile_row, rows = frames - first_frame < 4 ? frames - first_frame : 4;
    const size_t pooled_bins = bins / 2, pooled_frames = frames / 2;
    float *pooled = layer->pooled ? layer->pooled + channel * pooled_frames * pooled_bins : 0;
    for (size_t j = 0; j < s.count; j += 16) {
        const size_t first_bin = 4 * (s.first_column + j), tiles = s.count - j < 16 ? s.count - j : 16;
        const int whole = tiles == 16 && first_bin + 64 <= bins;
        v16 upper[2];          // the first row of a pair, its bins summed in pairs (whole vectors)
        float upper_part[32];  // the same at the map's edges
        for (size_t row = 0; row < rows; row++) {
            const float *q = stage + row * 6 * WIDTH;
            float *target = plane + (first_frame + row - layer->output_origin) * bins + first_bin;
            v16 y[4];
            OUTPUT_TRANSFORM(load(q + j), load(q + WIDTH + j), load(q + 2 * WIDTH + j), load(q + 3 * WIDTH + j),
                             load(q + 4 * WIDTH + j), load(q + 5 * WIDTH + j), y);
            v16 p01[2], p23[2], out[4];
            interleave(y[0], y[1], p01);   // phases 0 and 1 in pairs, tiles 0–7 | 8–15
            interleave(y[2], y[3], p23);
            interleave_pairs(p01[0], p23[0], out);
            interleave_pairs(p01[1], p23[1], out + 2);
            if (residual) {
                const float *add = residual + row * residual_row + 4 * j;
                if (whole) {
                    for (size_t k = 0; k < 4; k++) out[k] += load(add + 16 * k) + bias;
                } else {
                    float lanes[64] = {0};
                    for (size_t e = 0; e < 4 * tiles && first_bin + e < bins; e++) lanes[e] = add[e];
                    for (size_t k = 0; k < 4; k++) out[k] += load(lanes + 16 * k) + bias;
                }
            }
            if (whole) {
                if (layer->streaming && ((uintptr_t)target & 63) == 0) {
                    for (size_t k = 0; k < 4; k++) __builtin_nontemporal_store(out[k], (v16 *)(target + 16 * k));
                } else {
                    for (size_t k = 0; k < 4; k++) store(target + 16 * k, out[k]);
                }
                if (pooled) {
                    // 2 × 2 average: neighbouring bins summed, then the pair of rows.
                    v16 first[2], second[2];
                    deinterleave(out[0], out[1], first);
                    deinterleave(out[2], out[3], second);
                    v16 h0 = first[0] + first[1], h1 = second[0] + second[1];
                    if (row % 2 == 0) {
                        upper[0] = h0; upper[1] = h1;
                    } else {
                        float *p = pooled + (first_frame + row) / 2 * pooled_bins + first_bin / 2;
                        store(p, (upper[0] + h0) * 0.25f);
                        store(p + 16, (upper[1] + h1) * 0.25f);
                    }
                }
            } else {
                float lanes[64];
                for (size_t k = 0; k < 4; k++) store(lanes + 16 * k, out[k]);
                for (size_t e = 0; e < 4 * tiles && first_bin + e < bins; e++) target[e] = lanes[e];
                if (pooled) {
                    // Pooled bins whose two bins both lie in the map (AvgPool2d drops an odd last one).
                    for (size_t b = 0; b < 2 * tiles && first_bin / 2 + b < pooled_bins; b++) {
                        float h = lanes[2 * b] + lanes[2 * b + 1];
                        if (row % 2 == 0) upper_part[b] = h;
                        else pooled[(first_frame + row) / 2 * pooled_bins + first_bin / 2 + b] = (upper_part[b] + h) * 0.25f;
                    }
                }
            }
        }
    }
}

/// The frame row 0 of residual plane `k` holds.
static inline size_t residual_origin(const ck_winograd_layer *layer, size_t k) {
    return layer->residual_origins ? layer->residual_origins[k] : 0;
}

// MARK: - Products

/// The residual's input under a block, for its 1×1 shortcut: X[k][row·R_ROW + e] at x + k·R_CHANNEL,
/// e the block's bin (4·offset + bin within the segment), the same layout as the shortcut's
/// outputs R. Copied once a block, then read by every channel block's products from L2.
INLINE void stage_residual(const ck_winograd_layer *layer, const segment *segments, size_t count, float *x) {
    const size_t frames = layer->frames, bins = layer->bins;
    for (size_t k = 0; k < layer->residual_channels; k++)
        for (size_t i = 0; i < count; i++) {
            const segment g = segments[i];
            const size_t first_frame = 4 * g.tile_row, first_bin = 4 * g.first_column;
            const size_t width = bins - first_bin < 4 * g.count ? bins - first_bin : 4 * g.count;
            for (size_t row = 0; row < 4 && first_frame + row < frames; row++)
                memcpy(x + k * R_CHANNEL + row * R_ROW + 4 * g.offset,
                       layer->residual_planes[k] + (first_frame + row - residual_origin(layer, k)) * bins + first_bin,
                       width * sizeof(float));
        }
}

// MARK: - A block

INLINE void run(const ck_winograd_layer *layer, size_t first_tile, size_t tiles, float *scratch, int wide) {
    if (tiles > BLOCK_TILES) tiles = BLOCK_TILES;   // the segments and V hold one block (callers never ask for more)
    const size_t in_channels = layer->in_channels, out_channels = layer->out_channels;
    const size_t columns = (layer->bins + 3) / 4;
    float *v = scratch;
    float *m = v + POINTS * v_stride(in_channels);
    float *stage = m + POINTS * M_STRIDE;
    float *shortcut = stage + 2 * 6 * 4 * WIDTH;
    float *x = shortcut + TILE_ROWS * R_CHANNEL;
    const int projected = layer->residual_planes && layer->residual_weights;

    segment segments[BLOCK_TILES];
    size_t count = 0;
    for (size_t done = 0; done < tiles;) {
        size_t tile = first_tile + done, row = tile / columns, column = tile % columns;
        size_t run = columns - column < tiles - done ? columns - column : tiles - done;
        segments[count++] = (segment){row, column, run, done};
        done += run;
    }

    if (layer->residual_planes) {
        // The residual's rows under the block, requested now and read after the products: its
        // planes were last touched a whole layer ago, and 4 rows × up to 768 planes are too many
        // short streams for the hardware prefetcher.
        for (size_t channel = 0; channel < layer->residual_channels; channel++)
            for (size_t i = 0; i < count; i++) {
                const segment g = segments[i];
                const size_t first_frame = 4 * g.tile_row;
                for (size_t row = 0; row < 4 && first_frame + row < layer->frames; row++) {
                    const float *line = layer->residual_planes[channel] + (first_frame + row - residual_origin(layer, channel)) * layer->bins
                                      + 4 * g.first_column;
                    size_t width = layer->bins - 4 * g.first_column < 4 * g.count ? layer->bins - 4 * g.first_column : 4 * g.count;
                    for (size_t e = 0; e < width; e += 16) __builtin_prefetch(line + e);
                }
            }
    }
    for (size_t channel = 0; channel < in_channels; channel++)
        for (size_t i = 0; i < count; i++) input_segment(layer, channel, segments[i], v, stage);
    if (projected) stage_residual(layer, segments, count, x);
    if (tiles < BLOCK_TILES)   // a short last block: the products' unused lanes stay finite
        for (size_t point = 0; point < POINTS; point++)
            for (size_t channel = 0; channel < in_channels; channel++)
                memset(v + point * v_stride(in_channels) + channel * BLOCK_TILES + tiles, 0, (BLOCK_TILES - tiles) * sizeof(float));

    const size_t blocks = channel_blocks(out_channels);
    for (size_t block = 0; block < blocks; block++) {
        const float *u = layer->weights + block * POINTS * in_channels * TILE_ROWS;
        for (size_t point = 0; point < POINTS; point++)
            product(u + point * in_channels * TILE_ROWS, v + point * v_stride(in_channels), BLOCK_TILES, in_channels,
                    m + point * M_STRIDE, BLOCK_TILES, wide);
        if (projected) {
            // The shortcut's products for these 8 channels: 32 of the block's pixels at a time.
            const float *w = layer->residual_weights + block * layer->residual_channels * TILE_ROWS;
            for (size_t row = 0; row < 4; row++)
                for (size_t e = 0; e < 4 * tiles; e += 32)
                    product(w, x + row * R_ROW + e, R_CHANNEL, layer->residual_channels, shortcut + row * R_ROW + e,
                                    R_CHANNEL, wide);
        }
        for (size_t r = 0; r < TILE_ROWS && block * TILE_ROWS + r < out_channels; r++) {
            const size_t channel = block * TILE_ROWS + r;
            for (size_t i = 0; i < count; i++) {
                const segment g = segments[i];
                const float *residual = 0;
                size_t residual_row = 0;
                float bias = 0;
                if (projected) {
                    residual = shortcut + r * R_CHANNEL + 4 * g.offset;
                    residual_row = R_ROW;
                    bias = layer->residual_bias[channel];
                } else if (layer->residual_planes) {
                    residual = layer->residual_planes[channel] + (4 * g.tile_row - residual_origin(layer, channel)) * layer->bins
                             + 4 * g.first_column;
                    residual_row = layer->bins;
                }
                output_segment(layer, channel, m + r * BLOCK_TILES, g, stage, residual, residual_row, bias);
            }
        }
    }
#if defined(__x86_64__)
    if (layer->streaming) __builtin_ia32_sfence();   // the streaming stores, visible before the caller's barrier
#endif
}

CK_DEFINE_BUILDS(ck_winograd_run, ck_winograd_layer)
