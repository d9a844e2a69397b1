/* Byte buffers with a size cap, and a bounds-checked reader.
 *
 * A `struct buf` grows on demand up to the cap fixed when it is created, so input from the
 * network or the disk can never make it grow without bound (the idea of curl's dynbuf). All
 * integers are written big-endian. A `struct buf_reader` walks a byte range and never reads
 * past its end: each read returns SBX_ETRUNCATED instead.
 */
#ifndef SBX_UTIL_BUF_H
#define SBX_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct buf {
    uint8_t *data;
    size_t len;
    size_t alloc;
    size_t cap; /* len never exceeds cap */
};

/* Start an empty buffer that may hold at most `cap` bytes. Allocates nothing yet. */
void buf_init(struct buf *b, size_t cap);
/* Free the memory; the buffer is empty again and may be reused. */
void buf_release(struct buf *b);
/* Drop the contents, keep the memory. */
void buf_reset(struct buf *b);
/* Make room for `n` more bytes. SBX_ETOOLONG past the cap, SBX_ENOMEM on allocation failure. */
int buf_reserve(struct buf *b, size_t n) SBX_WARN_UNUSED;

int buf_put(struct buf *b, const void *p, size_t n) SBX_WARN_UNUSED;
int buf_put_u8(struct buf *b, uint8_t v) SBX_WARN_UNUSED;
int buf_put_u16(struct buf *b, uint16_t v) SBX_WARN_UNUSED;
int buf_put_u32(struct buf *b, uint32_t v) SBX_WARN_UNUSED;
int buf_put_u64(struct buf *b, uint64_t v) SBX_WARN_UNUSED;
int buf_put_i64(struct buf *b, int64_t v) SBX_WARN_UNUSED;

/* Big-endian stores and loads on raw memory. */
void buf_store_u16(uint8_t out[static 2], uint16_t v);
void buf_store_u32(uint8_t out[static 4], uint32_t v);
void buf_store_u64(uint8_t out[static 8], uint64_t v);
uint16_t buf_load_u16(const uint8_t in[static 2]);
uint32_t buf_load_u32(const uint8_t in[static 4]);
uint64_t buf_load_u64(const uint8_t in[static 8]);
/* Unsigned LEB128 (7 bits a byte, low first; at most BUF_VARINT_MAX bytes): store returns the
 * bytes written; load returns the bytes read, 0 if `in` (len bytes) holds no whole varint or
 * one longer than BUF_VARINT_MAX. */
#define BUF_VARINT_MAX 10
size_t buf_store_varint(uint8_t out[static BUF_VARINT_MAX], uint64_t v);
size_t buf_load_varint(const uint8_t *in, size_t len, uint64_t *v);

struct buf_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

void buf_reader_init(struct buf_reader *r, const uint8_t *p, size_t len);
/* Bytes not yet read. */
size_t buf_reader_left(const struct buf_reader *r);
/* Each returns SBX_OK or SBX_ETRUNCATED (then the output is zeroed and pos is unchanged). */
int buf_read(struct buf_reader *r, void *out, size_t n) SBX_WARN_UNUSED;
int buf_read_u8(struct buf_reader *r, uint8_t *v) SBX_WARN_UNUSED;
int buf_read_u16(struct buf_reader *r, uint16_t *v) SBX_WARN_UNUSED;
int buf_read_u32(struct buf_reader *r, uint32_t *v) SBX_WARN_UNUSED;
int buf_read_u64(struct buf_reader *r, uint64_t *v) SBX_WARN_UNUSED;
int buf_read_i64(struct buf_reader *r, int64_t *v) SBX_WARN_UNUSED;
/* Point `*out` at the next `n` bytes without copying. */
int buf_read_ref(struct buf_reader *r, const uint8_t **out, size_t n) SBX_WARN_UNUSED;

#endif
