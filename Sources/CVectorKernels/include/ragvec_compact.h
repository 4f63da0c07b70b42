#ifndef RAGVEC_COMPACT_H
#define RAGVEC_COMPACT_H
// Compact vector formats for search: int8 with one scale per vector, and IEEE half precision (fp16). Both read a
// quarter or half the bytes of fp32 per query; each kernel is chosen at run time for the CPU (AVX-512 VNNI, AVX2, or
// portable C), like ragvec_dot_rows.
//
// int8 layout ("blocked"): rows are stored in blocks of 16. A block holds, for each group g of 4 dimensions
// (g in 0 ..< dim / 4; dim is padded with zeros to a multiple of 4), the 4 codes of each of its 16 rows: 64 bytes at
// block * 16 * dim + g * 64 + lane * 4. One VNNI instruction then multiplies 4 dimensions of 16 rows by the same 4
// query codes and adds them into 16 per-row sums, so a row's score needs no horizontal reduction, and several queries
// share every load of a block. A partial last block is padded with zero rows.
//
// A row's code is round(x / scale) with scale = max |x| / 127 (0 for a zero row), so the row is scale * code within
// scale / 2 per dimension. The query is quantized the same way; the score is dot(codes) * query_scale * row_scale.
#include <stddef.h>
#include <stdint.h>

/// Quantizes `count` fp32 rows of `dim` values (dim a multiple of 4) into the blocked int8 layout, as rows
/// `first_row` ..< `first_row + count` of `blocks`; writes each row's scale to `scales[row]` and the sum of its codes to
/// `sums[row]` (both indexed from the index's first row).
void ragvec_i8_put_rows(const float *_Nonnull rows, size_t count, size_t dim, size_t first_row,
                        int8_t *_Nonnull blocks, float *_Nonnull scales, int32_t *_Nonnull sums);

/// Quantizes one query of `dim` values (a multiple of 4) to codes; returns its scale.
float ragvec_i8_quantize_query(const float *_Nonnull query, size_t dim, int8_t *_Nonnull codes);

/// The stored form of int8 rows (a collection's vectors on disk): for each row, its scale (4 bytes, this host's
/// float) and then its `dim` codes, `dim + 4` bytes a row. Encodes `count` fp32 rows of `dim` values (any `dim`).
void ragvec_i8_encode_rows(const float *_Nonnull rows, size_t count, size_t dim, uint8_t *_Nonnull out);

/// Decodes `count` stored int8 rows into fp32 values (code * scale). Returns 0, having decoded part of them, when a
/// row is not one a writer makes (a negative or non-finite scale, a code -128).
int ragvec_i8_decode_rows(const uint8_t *_Nonnull stored, size_t count, size_t dim, float *_Nonnull out);

/// Puts `count` stored int8 rows of `dim` values into the blocked layout (rows padded to `padded` dimensions, the
/// padding already zero), as rows `first_row` ..< `first_row + count`, with their scales and code sums. Returns 0,
/// having written part of them, when a row is not one a writer makes (a negative or non-finite scale, a code -128).
int ragvec_i8_put_stored(const uint8_t *_Nonnull stored, size_t count, size_t dim, size_t padded, size_t first_row,
                         int8_t *_Nonnull blocks, float *_Nonnull scales, int32_t *_Nonnull sums);

/// Decodes rows `first_row` ..< `first_row + count` of the blocked layout into fp32 values (`dim` per row).
void ragvec_i8_get_rows(const int8_t *_Nonnull blocks, const float *_Nonnull scales, size_t first_row, size_t count,
                        size_t padded, size_t dim, float *_Nonnull out);

/// The dot product of an fp32 `query` (`dim` values) with row `row` of the blocked layout, decoded (code * scale):
/// a candidate's score against the unquantized query.
float ragvec_i8_row_dot(const int8_t *_Nonnull blocks, const float *_Nonnull scales, size_t row, size_t padded,
                        size_t dim, const float *_Nonnull query);

/// Approximate scores of `queries` (`query_count` quantized queries of `dim` codes each, with their scales) against
/// rows `first_block * 16` ..< `(first_block + block_count) * 16`: out[q * out_stride + r] for r counted from the
/// first row of `first_block`.
void ragvec_i8_scores(const int8_t *_Nonnull blocks, const float *_Nonnull scales, const int32_t *_Nonnull sums,
                      size_t first_block, size_t block_count, size_t dim, const int8_t *_Nonnull queries,
                      const float *_Nonnull query_scales, size_t query_count, float *_Nonnull out, size_t out_stride);

/// Converts `count` floats to IEEE fp16 (round to nearest even; beyond the range, infinity).
void ragvec_f16_from_f32(const float *_Nonnull values, size_t count, uint16_t *_Nonnull out);

/// Converts `count` fp16 values to floats.
void ragvec_f16_to_f32(const uint16_t *_Nonnull values, size_t count, float *_Nonnull out);

/// out[r] = dot(rows[r * dim ..< (r + 1) * dim] as floats, query) for r in 0 ..< count.
void ragvec_f16_dot_rows(const uint16_t *_Nonnull rows, size_t count, size_t dim, const float *_Nonnull query,
                         float *_Nonnull out);

/// The instruction set the int8 kernel uses on this CPU: "avx512vnni", "avx2" or "portable".
const char *_Nonnull ragvec_i8_kernel_name(void);

/// The instruction set the fp16 kernel uses on this CPU: "avx512f", "avx2" (with F16C) or "portable".
const char *_Nonnull ragvec_f16_kernel_name(void);

/// Forces a kernel, so that tests can compare every kernel this CPU runs: 1 the portable ones, 2 the AVX2 ones (when
/// the CPU has AVX2, else the best), 0 the best for this CPU again. Process-wide.
void ragvec_compact_force(int level);

#endif
