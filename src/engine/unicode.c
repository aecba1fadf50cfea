/*
 * unicode.c - UTF-8 coding, code point flags, lower-casing, NFD first code
 * point and the GPT-2 byte mapping, over the generated tables in
 * unicode_data.c.
 *
 * UTF-8 decoding follows what the reference tokenizers do with broken
 * input: a byte that does not start a well-formed sequence becomes U+FFFD
 * and decoding resumes at the next byte. Overlong forms are not rejected
 * (their value is taken as encoded), so that byte-exact token streams match
 * other implementations.
 */
#include "engine/unicode.h"

#include "core/alloc.h"
#include "core/error.h"

unsigned rh_unicode_flags(uint32_t cp)
{
    if (cp >= RH_UNICODE_MAX)
        return RH_UF_UNDEFINED;
    size_t lo = 0, hi = rh_ucd_ranges_n; /* find the last start <= cp */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (rh_ucd_ranges[mid].start <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return rh_ucd_ranges[lo].flags;
}

static uint32_t map_lookup(const rh_ucd_map *m, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m[mid].from < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < n && m[lo].from == cp) ? m[lo].to : cp;
}

uint32_t rh_unicode_tolower(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return map_lookup(rh_ucd_lower, rh_ucd_lower_n, cp);
}

uint32_t rh_unicode_nfd_first(uint32_t cp)
{
    if (cp < 0xC0)
        return cp;
    if (cp >= 0xAC00 && cp <= 0xD7A3) /* Hangul syllable -> leading jamo */
        return 0x1100 + (cp - 0xAC00) / 588;
    return map_lookup(rh_ucd_nfd, rh_ucd_nfd_n, cp);
}

size_t rh_utf8_len(unsigned char lead)
{
    static const unsigned char len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[lead >> 4];
}

int rh_utf8_valid(const void *data, size_t len)
{
    const unsigned char *s = data;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* lead bytes C2..DF, E0..EF, F0..F4; the second byte's range
         * excludes overlong forms, surrogates and code points > U+10FFFF */
        size_t l = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (l == 0 || len - i < l)
            return 0;
        unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t j = 2; j < l; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
        i += l;
    }
    return 1;
}

static int is_cont(const char *s, size_t i) { return ((unsigned char)s[i] & 0xC0) == 0x80; }

uint32_t rh_utf8_decode(const char *s, size_t len, size_t *pos)
{
    size_t i = *pos;
    unsigned b = (unsigned char)s[i];
    if (!(b & 0x80)) {
        *pos = i + 1;
        return b;
    }
    if ((b & 0x40) && !(b & 0x20)) {
        if (i + 1 < len && is_cont(s, i + 1)) {
            *pos = i + 2;
            return ((b & 0x1Fu) << 6) | ((unsigned char)s[i + 1] & 0x3Fu);
        }
    } else if ((b & 0x40) && !(b & 0x10)) {
        if (i + 2 < len && is_cont(s, i + 1) && is_cont(s, i + 2)) {
            *pos = i + 3;
            return ((b & 0x0Fu) << 12) | (((unsigned char)s[i + 1] & 0x3Fu) << 6) |
                   ((unsigned char)s[i + 2] & 0x3Fu);
        }
    } else if ((b & 0x40) && !(b & 0x08)) {
        if (i + 3 < len && is_cont(s, i + 1) && is_cont(s, i + 2) && is_cont(s, i + 3)) {
            *pos = i + 4;
            return ((b & 0x07u) << 18) | (((unsigned char)s[i + 1] & 0x3Fu) << 12) |
                   (((unsigned char)s[i + 2] & 0x3Fu) << 6) | ((unsigned char)s[i + 3] & 0x3Fu);
        }
    }
    *pos = i + 1;
    return RH_UNICODE_REPLACEMENT;
}

int rh_utf8_to_cpts(const char *s, size_t len, uint32_t **out, size_t *n)
{
    uint32_t *c = rh_malloc_array(len ? len : 1, sizeof *c);
    if (!c)
        return RH_ENOMEM;
    size_t k = 0, pos = 0;
    while (pos < len)
        c[k++] = rh_utf8_decode(s, len, &pos);
    *out = c;
    *n = k;
    return RH_OK;
}

int rh_utf8_encode(uint32_t cp, char *buf)
{
    unsigned char *b = (unsigned char *)buf;
    if (cp >= RH_UNICODE_MAX)
        cp = RH_UNICODE_REPLACEMENT;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Bytes that are printable stay themselves; the others (0x00-0x20,
 * 0x7F-0xA0, 0xAD) are numbered upwards from U+0100 in byte order. */
static int byte_is_printable(unsigned b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

uint32_t rh_byte_to_cpt(uint8_t b)
{
    if (byte_is_printable(b))
        return b;
    uint32_t n = 0;
    for (unsigned i = 0; i < b; i++)
        n += !byte_is_printable(i);
    return 256 + n;
}

int rh_cpt_to_byte(uint32_t cp)
{
    if (cp < 256)
        return byte_is_printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68) /* 68 bytes are not printable */
        return -1;
    uint32_t n = cp - 256;
    for (unsigned b = 0; b < 256; b++)
        if (!byte_is_printable(b) && n-- == 0)
            return (int)b;
    return -1;
}
