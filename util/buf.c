/* Capped byte buffers and the bounds-checked reader; see buf.h. */
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void
buf_release(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
}

int
buf_reserve(struct buf *b, size_t n)
{
    size_t want, alloc;
    uint8_t *p;

    if (n > b->cap || b->len > b->cap - n)
        return SBX_ETOOLONG;
    want = b->len + n;
    if (want <= b->alloc)
        return SBX_OK;
    alloc = b->alloc ? b->alloc : 64;
    while (alloc < want)
        alloc = alloc > SIZE_MAX / 2 ? want : alloc * 2;
    if (alloc > b->cap)
        alloc = b->cap;
    p = realloc(b->data, alloc);
    if (p == NULL)
        return SBX_ENOMEM;
    b->data = p;
    b->alloc = alloc;
    return SBX_OK;
}

int
buf_put(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);

    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return SBX_OK;
}

int
buf_put_u8(struct buf *b, uint8_t v)
{
    return buf_put(b, &v, 1);
}

int
buf_put_u16(struct buf *b, uint16_t v)
{
    uint8_t t[2];

    buf_store_u16(t, v);
    return buf_put(b, t, sizeof(t));
}

int
buf_put_u32(struct buf *b, uint32_t v)
{
    uint8_t t[4];

    buf_store_u32(t, v);
    return buf_put(b, t, sizeof(t));
}

int
buf_put_u64(struct buf *b, uint64_t v)
{
    uint8_t t[8];

    buf_store_u64(t, v);
    return buf_put(b, t, sizeof(t));
}

int
buf_put_i64(struct buf *b, int64_t v)
{
    return buf_put_u64(b, (uint64_t)v);
}

void
buf_store_u16(uint8_t out[static 2], uint16_t v)
{
    out[0] = (uint8_t)(v >> 8);
    out[1] = (uint8_t)v;
}

void
buf_store_u32(uint8_t out[static 4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

void
buf_store_u64(uint8_t out[static 8], uint64_t v)
{
    buf_store_u32(out, (uint32_t)(v >> 32));
    buf_store_u32(out + 4, (uint32_t)v);
}

uint16_t
buf_load_u16(const uint8_t in[static 2])
{
    return (uint16_t)((in[0] << 8) | in[1]);
}

uint32_t
buf_load_u32(const uint8_t in[static 4])
{
    return ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | in[3];
}

uint64_t
buf_load_u64(const uint8_t in[static 8])
{
    return ((uint64_t)buf_load_u32(in) << 32) | buf_load_u32(in + 4);
}

size_t
buf_store_varint(uint8_t out[static BUF_VARINT_MAX], uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t
buf_load_varint(const uint8_t *in, size_t len, uint64_t *v)
{
    uint64_t r = 0;

    *v = 0;
    for (size_t i = 0; i < len && i < BUF_VARINT_MAX; i++) {
        r |= (uint64_t)(in[i] & 0x7f) << (7 * i);
        if ((in[i] & 0x80) == 0) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

void
buf_reader_init(struct buf_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
}

size_t
buf_reader_left(const struct buf_reader *r)
{
    return r->len - r->pos;
}

int
buf_read_ref(struct buf_reader *r, const uint8_t **out, size_t n)
{
    if (n > r->len - r->pos) {
        *out = NULL;
        return SBX_ETRUNCATED;
    }
    *out = r->p + r->pos;
    r->pos += n;
    return SBX_OK;
}

int
buf_read(struct buf_reader *r, void *out, size_t n)
{
    const uint8_t *p;
    int rc = buf_read_ref(r, &p, n);

    if (rc) {
        if (n)
            memset(out, 0, n);
        return rc;
    }
    if (n)
        memcpy(out, p, n);
    return SBX_OK;
}

int
buf_read_u8(struct buf_reader *r, uint8_t *v)
{
    return buf_read(r, v, 1);
}

int
buf_read_u16(struct buf_reader *r, uint16_t *v)
{
    uint8_t t[2];
    int rc = buf_read(r, t, 2);

    *v = rc ? 0 : buf_load_u16(t);
    return rc;
}

int
buf_read_u32(struct buf_reader *r, uint32_t *v)
{
    uint8_t t[4];
    int rc = buf_read(r, t, 4);

    *v = rc ? 0 : buf_load_u32(t);
    return rc;
}

int
buf_read_u64(struct buf_reader *r, uint64_t *v)
{
    uint8_t t[8];
    int rc = buf_read(r, t, 8);

    *v = rc ? 0 : buf_load_u64(t);
    return rc;
}

int
buf_read_i64(struct buf_reader *r, int64_t *v)
{
    uint64_t u;
    int rc = buf_read_u64(r, &u);

    *v = (int64_t)u;
    return rc;
}
