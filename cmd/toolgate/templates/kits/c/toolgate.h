/*
 * toolgate.h — write a Toolgate tool (an Extism-ABI plugin) in C or C++. One header, no library, no libc needed.
 *
 *   #include "toolgate.h"
 *   TG_EXPORT("run") int32_t run(void) {
 *       tg_bytes in = tg_input();
 *       tg_output(in.data, in.len);
 *       return 0;                                   // or: return tg_error("what went wrong");
 *   }
 *
 * Build (see docs/plugins.md):
 *   clang   --target=wasm32 -O2 -nostdlib -Wl,--no-entry -o tool.wasm tool.c
 *   clang++ --target=wasm32 -O2 -nostdlib -fno-exceptions -fno-rtti -Wl,--no-entry -o tool.wasm tool.cc
 *   emcc -O2 -sSTANDALONE_WASM --no-entry -o tool.wasm tool.c        (uses emscripten's malloc)
 *
 * What it covers: input and output (bytes and strings), tool errors, config values, log lines, HTTP through
 * Toolgate's network door (with {{secret:NAME}} placeholders the door fills in), a growable byte buffer, strict
 * UTF-8 validation, and the small JSON needs of a tool (read a string field, write an escaped string).
 *
 * Memory: without a libc (target wasm32, -nostdlib) the header brings a bump allocator that never frees (every
 * call runs in a fresh sandbox, so nothing outlives the call; the memory limit still applies). Under WASI or
 * emscripten it uses the libc's malloc. Every function is static, so the header can be included anywhere;
 * the only non-static symbols are weak memcpy/memmove/memset for builds without a libc.
 *
 * ABI: the Extism kernel ABI of module "extism:host/env" (docs/ABI.md). Offsets into the host's memory are
 * uint64_t; tg_* functions copy to and from the guest's own memory with 8-byte loads and stores.
 */
#ifndef TOOLGATE_H
#define TOOLGATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TG_EXPORT("name") exports a function as an entry point: int32_t name(void), 0 = success. */
#define TG_EXPORT(name) __attribute__((export_name(name), visibility("default")))

#define TG__IMPORT(name) __attribute__((import_module("extism:host/env"), import_name(name)))

/* The raw Extism kernel functions (offsets are into the host's memory). */
TG__IMPORT("input_length") uint64_t extism_input_length(void);
TG__IMPORT("input_load_u8") uint32_t extism_input_load_u8(uint64_t off);
TG__IMPORT("input_load_u64") uint64_t extism_input_load_u64(uint64_t off);
TG__IMPORT("alloc") uint64_t extism_alloc(uint64_t len);
TG__IMPORT("free") void extism_free(uint64_t off);
TG__IMPORT("length") uint64_t extism_length(uint64_t off);
TG__IMPORT("load_u8") uint32_t extism_load_u8(uint64_t off);
TG__IMPORT("load_u64") uint64_t extism_load_u64(uint64_t off);
TG__IMPORT("store_u8") void extism_store_u8(uint64_t off, uint32_t v);
TG__IMPORT("store_u64") void extism_store_u64(uint64_t off, uint64_t v);
TG__IMPORT("output_set") void extism_output_set(uint64_t off, uint64_t len);
TG__IMPORT("error_set") void extism_error_set(uint64_t off);
TG__IMPORT("config_get") uint64_t extism_config_get(uint64_t key_off);
TG__IMPORT("http_request") uint64_t extism_http_request(uint64_t req_off, uint64_t body_off);
TG__IMPORT("http_status_code") int32_t extism_http_status_code(void);
TG__IMPORT("log_info") void extism_log_info(uint64_t off);
TG__IMPORT("log_warn") void extism_log_warn(uint64_t off);
TG__IMPORT("log_error") void extism_log_error(uint64_t off);
TG__IMPORT("log_debug") void extism_log_debug(uint64_t off);

/* A byte string in the guest's memory. data is NULL only for "absent" (a missing config key). */
typedef struct {
    uint8_t *data;
    size_t len;
} tg_bytes;

/* ---- memory -------------------------------------------------------------------------------------------- */

#if defined(__wasi__) || defined(__EMSCRIPTEN__)
#include <stdlib.h>
#include <string.h>
static inline void *tg_malloc(size_t n) { return malloc(n ? n : 1); }
static inline void *tg_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
static inline void tg_free(void *p) { free(p); }
#define tg__memcpy memcpy
#define tg__memset memset
#else
extern unsigned char __heap_base;
static uintptr_t tg__heap_top, tg__heap_end, tg__last;

__attribute__((weak, no_builtin("memcpy"))) void *memcpy(void *d, const void *s, size_t n) {
    unsigned char *dp = (unsigned char *)d;
    const unsigned char *sp = (const unsigned char *)s;
    while (n--) *dp++ = *sp++;
    return d;
}
__attribute__((weak, no_builtin("memmove"))) void *memmove(void *d, const void *s, size_t n) {
    unsigned char *dp = (unsigned char *)d;
    const unsigned char *sp = (const unsigned char *)s;
    if (dp <= sp || dp >= sp + n) return memcpy(d, s, n);
    while (n--) dp[n] = sp[n];
    return d;
}
__attribute__((weak, no_builtin("memset"))) void *memset(void *d, int c, size_t n) {
    unsigned char *dp = (unsigned char *)d;
    while (n--) *dp++ = (unsigned char)c;
    return d;
}
#define tg__memcpy memcpy
#define tg__memset memset

/* tg_malloc returns 8-byte aligned memory, or NULL when the memory limit refuses to grow. */
static inline void *tg_malloc(size_t n) {
    if (tg__heap_top == 0) tg__heap_top = tg__heap_end = ((uintptr_t)&__heap_base + 7) & ~(uintptr_t)7;
    uintptr_t p = tg__heap_top, end = p + ((n + 7) & ~(size_t)7);
    if (end < p) return NULL;
    if (end > tg__heap_end) {
        uintptr_t mem = __builtin_wasm_memory_size(0) * 65536u;
        if (end > mem) {
            size_t pages = (end - mem + 65535u) / 65536u;
            if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return NULL;
        }
        tg__heap_end = __builtin_wasm_memory_size(0) * 65536u;
    }
    tg__heap_top = end;
    tg__last = p;
    return (void *)p;
}
/* tg_free does nothing: the sandbox is thrown away after the call. */
static inline void tg_free(void *p) { (void)p; }
/* tg_realloc grows the most recent allocation in place, else copies. */
static inline void *tg_realloc(void *p, size_t n) {
    if (p == NULL) return tg_malloc(n);
    if ((uintptr_t)p == tg__last) {
        size_t old = tg__heap_top - tg__last;
        tg__heap_top = tg__last;
        void *q = tg_malloc(n); /* same address, grown */
        if (q == NULL) tg__heap_top = tg__last + old;
        tg__last = (uintptr_t)p;
        return q;
    }
    void *q = tg_malloc(n);
    if (q != NULL) {
        /* the old size is unknown: copy what can belong to it, up to the new size and the old top */
        size_t max = (size_t)((uintptr_t)q - (uintptr_t)p);
        tg__memcpy(q, p, n < max ? n : max);
    }
    return q;
}
#endif

static inline size_t tg_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/* ---- moving bytes to and from the host ----------------------------------------------------------------- */

/* tg_host_put copies n bytes into a fresh block of host memory and returns its offset. */
static inline uint64_t tg_host_put(const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    uint64_t off = extism_alloc(n);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        tg__memcpy(&v, b + i, 8);
        extism_store_u64(off + i, v);
    }
    for (; i < n; i++) extism_store_u8(off + i, b[i]);
    return off;
}

/* tg_host_get copies the host block at off into guest memory. */
static inline tg_bytes tg_host_get(uint64_t off) {
    tg_bytes r = {0, 0};
    if (off == 0) return r;
    size_t n = (size_t)extism_length(off), i = 0;
    r.data = (uint8_t *)tg_malloc(n);
    r.len = n;
    if (r.data == NULL) __builtin_trap();
    for (; i + 8 <= n; i += 8) {
        uint64_t v = extism_load_u64(off + i);
        tg__memcpy(r.data + i, &v, 8);
    }
    for (; i < n; i++) r.data[i] = (uint8_t)extism_load_u8(off + i);
    return r;
}

/* ---- input, output, errors ----------------------------------------------------------------------------- */

/* tg_input returns the call's input (possibly empty, never NULL). */
static inline tg_bytes tg_input(void) {
    size_t n = (size_t)extism_input_length(), i = 0;
    tg_bytes r;
    r.data = (uint8_t *)tg_malloc(n);
    r.len = n;
    if (r.data == NULL) __builtin_trap();
    for (; i + 8 <= n; i += 8) {
        uint64_t v = extism_input_load_u64(i);
        tg__memcpy(r.data + i, &v, 8);
    }
    for (; i < n; i++) r.data[i] = (uint8_t)extism_input_load_u8(i);
    return r;
}

/* tg_output sets the call's output to n bytes at p (the last call wins). */
static inline void tg_output(const void *p, size_t n) { extism_output_set(tg_host_put(p, n), n); }
static inline void tg_output_str(const char *s) { tg_output(s, tg_strlen(s)); }

/* tg_error_n sets the tool error message and returns 1, so an entry point can `return tg_error("…")`. The
 * call's status is then tool_error and the message is passed on to the caller. */
static inline int32_t tg_error_n(const void *msg, size_t n) {
    extism_error_set(tg_host_put(msg, n));
    return 1;
}
static inline int32_t tg_error(const char *msg) { return tg_error_n(msg, tg_strlen(msg)); }

/* ---- config and logs ----------------------------------------------------------------------------------- */

/* tg_config returns the value of config key (the version document's "config"), data NULL when absent. An empty
 * value reads as absent (the ABI does not tell them apart). */
static inline tg_bytes tg_config(const char *key) {
    uint64_t k = tg_host_put(key, tg_strlen(key));
    uint64_t v = extism_config_get(k);
    extism_free(k);
    if (v == 0 || extism_length(v) == 0) {
        tg_bytes none = {0, 0};
        return none;
    }
    return tg_host_get(v);
}

typedef enum { TG_LOG_DEBUG, TG_LOG_INFO, TG_LOG_WARN, TG_LOG_ERROR } tg_log_level;

/* tg_log writes one log line; Toolgate keeps info and above, with a cap, and counts them in the receipt. */
static inline void tg_log_n(tg_log_level level, const void *msg, size_t n) {
    uint64_t off = tg_host_put(msg, n);
    switch (level) {
    case TG_LOG_DEBUG: extism_log_debug(off); break;
    case TG_LOG_INFO: extism_log_info(off); break;
    case TG_LOG_WARN: extism_log_warn(off); break;
    default: extism_log_error(off); break;
    }
}
static inline void tg_log(tg_log_level level, const char *msg) { tg_log_n(level, msg, tg_strlen(msg)); }

/* ---- a growable buffer --------------------------------------------------------------------------------- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
} tg_buf;

static inline void tg_buf_grow(tg_buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + extra) cap *= 2;
    b->data = (uint8_t *)tg_realloc(b->data, cap);
    if (b->data == NULL) __builtin_trap();
    b->cap = cap;
}
static inline void tg_buf_append(tg_buf *b, const void *p, size_t n) {
    tg_buf_grow(b, n);
    if (n) tg__memcpy(b->data + b->len, p, n);
    b->len += n;
}
static inline void tg_buf_append_str(tg_buf *b, const char *s) { tg_buf_append(b, s, tg_strlen(s)); }
static inline void tg_buf_append_byte(tg_buf *b, uint8_t c) { tg_buf_append(b, &c, 1); }
static inline void tg_buf_append_uint(tg_buf *b, uint64_t v) {
    char tmp[20];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (n) tg_buf_append_byte(b, (uint8_t)tmp[--n]);
}
static inline tg_bytes tg_buf_bytes(const tg_buf *b) {
    tg_bytes r;
    r.data = b->data;
    r.len = b->len;
    return r;
}

/* ---- UTF-8 --------------------------------------------------------------------------------------------- */

/* tg_utf8_valid reports whether p[0:n] is valid UTF-8 (no overlong forms, surrogates or values past U+10FFFF). */
static inline int tg_utf8_valid(const void *p, size_t n) {
    const uint8_t *s = (const uint8_t *)p;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t k;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) k = 1;
        else if (c >= 0xE0 && c <= 0xEF) { k = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { k = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        else return 0;
        if (n - i <= k) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t j = 2; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return 0;
        i += k + 1;
    }
    return 1;
}

/* ---- JSON ---------------------------------------------------------------------------------------------- */

/* tg_buf_append_json_string appends p[0:n] as a JSON string: quotes, backslashes and control characters
 * escaped (\b \f \n \r \t, else \u00XX), everything else, UTF-8 included, as is. */
static inline void tg_buf_append_json_string(tg_buf *b, const void *p, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)p;
    tg_buf_append_byte(b, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        switch (c) {
        case '"': tg_buf_append_str(b, "\\\""); break;
        case '\\': tg_buf_append_str(b, "\\\\"); break;
        case '\b': tg_buf_append_str(b, "\\b"); break;
        case '\f': tg_buf_append_str(b, "\\f"); break;
        case '\n': tg_buf_append_str(b, "\\n"); break;
        case '\r': tg_buf_append_str(b, "\\r"); break;
        case '\t': tg_buf_append_str(b, "\\t"); break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                tg_buf_append(b, e, 6);
            } else {
                tg_buf_append_byte(b, c);
            }
        }
    }
    tg_buf_append_byte(b, '"');
}

static inline size_t tg__json_ws(const uint8_t *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}
static inline int tg__hex4(const uint8_t *s, size_t n, size_t i, uint32_t *v) {
    if (i > n || n - i < 4) return 0;
    *v = 0;
    for (size_t j = 0; j < 4; j++) {
        uint8_t c = s[i + j];
        uint32_t d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        *v = *v * 16 + d;
    }
    return 1;
}
static inline void tg__utf8_put(tg_buf *out, uint32_t r) {
    if (r < 0x80) tg_buf_append_byte(out, (uint8_t)r);
    else if (r < 0x800) {
        tg_buf_append_byte(out, (uint8_t)(0xC0 | r >> 6));
        tg_buf_append_byte(out, (uint8_t)(0x80 | (r & 0x3F)));
    } else if (r < 0x10000) {
        tg_buf_append_byte(out, (uint8_t)(0xE0 | r >> 12));
        tg_buf_append_byte(out, (uint8_t)(0x80 | ((r >> 6) & 0x3F)));
        tg_buf_append_byte(out, (uint8_t)(0x80 | (r & 0x3F)));
    } else {
        tg_buf_append_byte(out, (uint8_t)(0xF0 | r >> 18));
        tg_buf_append_byte(out, (uint8_t)(0x80 | ((r >> 12) & 0x3F)));
        tg_buf_append_byte(out, (uint8_t)(0x80 | ((r >> 6) & 0x3F)));
        tg_buf_append_byte(out, (uint8_t)(0x80 | (r & 0x3F)));
    }
}
/* tg__json_string scans the string starting at s[i] == '"'; decodes it into out if out is not NULL. Returns the
 * index after the closing quote, or 0 on a malformed string. */
static inline size_t tg__json_string(const uint8_t *s, size_t n, size_t i, tg_buf *out) {
    if (i >= n || s[i] != '"') return 0;
    for (i++; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"') return i + 1;
        if (c < 0x20) return 0;
        if (c != '\\') {
            if (out) tg_buf_append_byte(out, c);
            continue;
        }
        if (++i >= n) return 0;
        uint32_t r;
        switch (s[i]) {
        case '"': r = '"'; break;
        case '\\': r = '\\'; break;
        case '/': r = '/'; break;
        case 'b': r = '\b'; break;
        case 'f': r = '\f'; break;
        case 'n': r = '\n'; break;
        case 'r': r = '\r'; break;
        case 't': r = '\t'; break;
        case 'u':
            if (!tg__hex4(s, n, i + 1, &r)) return 0;
            i += 4;
            if (r >= 0xD800 && r < 0xDC00) { /* a surrogate pair, else U+FFFD */
                uint32_t lo;
                if (i + 2 < n && s[i + 1] == '\\' && s[i + 2] == 'u' && tg__hex4(s, n, i + 3, &lo) && lo >= 0xDC00 &&
                    lo < 0xE000) {
                    r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                } else {
                    r = 0xFFFD;
                }
            } else if (r >= 0xDC00 && r < 0xE000) {
                r = 0xFFFD;
            }
            break;
        default: return 0;
        }
        if (out) tg__utf8_put(out, r);
    }
    return 0;
}
/* tg__json_skip skips one JSON value at s[i]; returns the index after it, or 0 if malformed. */
static inline size_t tg__json_skip(const uint8_t *s, size_t n, size_t i) {
    i = tg__json_ws(s, n, i);
    if (i >= n) return 0;
    if (s[i] == '"') return tg__json_string(s, n, i, NULL);
    if (s[i] == '{' || s[i] == '[') {
        uint8_t close = s[i] == '{' ? '}' : ']';
        i = tg__json_ws(s, n, i + 1);
        if (i < n && s[i] == close) return i + 1;
        for (;;) {
            if (close == '}') {
                i = tg__json_string(s, n, tg__json_ws(s, n, i), NULL);
                if (!i) return 0;
                i = tg__json_ws(s, n, i);
                if (i >= n || s[i] != ':') return 0;
                i++;
            }
            i = tg__json_skip(s, n, i);
            if (!i) return 0;
            i = tg__json_ws(s, n, i);
            if (i >= n) return 0;
            if (s[i] == close) return i + 1;
            if (s[i] != ',') return 0;
            i++;
        }
    }
    size_t start = i; /* a number or a literal: its characters, checked loosely */
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-' || s[i] == '+' ||
                     s[i] == '.' || s[i] == 'E'))
        i++;
    return i > start ? i : 0;
}

/* tg_json_get_string reads the string field key of the JSON object json[0:n] into *out (decoded, UTF-8) and
 * returns 1; it returns 0 when json is not an object, key is absent, or its value is not a string. */
static inline int tg_json_get_string(const void *json, size_t n, const char *key, tg_bytes *out) {
    const uint8_t *s = (const uint8_t *)json;
    size_t klen = tg_strlen(key), i = tg__json_ws(s, n, 0);
    int found = 0;
    if (i >= n || s[i] != '{') return 0;
    i = tg__json_ws(s, n, i + 1);
    if (i < n && s[i] == '}') return 0;
    for (;;) {
        tg_buf k = {0, 0, 0};
        i = tg__json_string(s, n, tg__json_ws(s, n, i), &k);
        if (!i) return 0;
        i = tg__json_ws(s, n, i);
        if (i >= n || s[i] != ':') return 0;
        i = tg__json_ws(s, n, i + 1);
        int match = k.len == klen;
        for (size_t j = 0; match && j < klen; j++) match = k.data[j] == (uint8_t)key[j];
        if (match && i < n && s[i] == '"') {
            tg_buf v = {0, 0, 0};
            i = tg__json_string(s, n, i, &v);
            if (!i) return 0;
            out->data = v.data ? v.data : (uint8_t *)tg_malloc(0);
            out->len = v.len;
            found = 1;
        } else {
            if (match) found = 0;
            i = tg__json_skip(s, n, i);
            if (!i) return 0;
        }
        i = tg__json_ws(s, n, i);
        if (i >= n) return 0;
        if (s[i] == '}') return tg__json_ws(s, n, i + 1) == n && found;
        if (s[i] != ',') return 0;
        i++;
    }
}

/* ---- HTTP through the network door --------------------------------------------------------------------- */

typedef struct {
    const char *name, *value;
} tg_header;

typedef struct {
    int32_t status; /* the HTTP status code */
    tg_bytes body;
} tg_http_response;

/* tg_http_request sends a request through Toolgate's network door. Header values and the body may contain
 * {{secret:NAME}} placeholders: the door substitutes the secret's value only for a destination the version's
 * grants allow, and masks it back in the response. A destination without a grant is refused and recorded in
 * the receipt; the call then fails (today with status trap). */
static inline tg_http_response tg_http_request(const char *method, const char *url, const tg_header *headers,
                                               size_t nheaders, const void *body, size_t body_len) {
    tg_buf req = {0, 0, 0};
    tg_buf_append_str(&req, "{\"method\":");
    tg_buf_append_json_string(&req, method, tg_strlen(method));
    tg_buf_append_str(&req, ",\"url\":");
    tg_buf_append_json_string(&req, url, tg_strlen(url));
    tg_buf_append_str(&req, ",\"headers\":{");
    for (size_t i = 0; i < nheaders; i++) {
        if (i) tg_buf_append_byte(&req, ',');
        tg_buf_append_json_string(&req, headers[i].name, tg_strlen(headers[i].name));
        tg_buf_append_byte(&req, ':');
        tg_buf_append_json_string(&req, headers[i].value, tg_strlen(headers[i].value));
    }
    tg_buf_append_str(&req, "}}");
    uint64_t r = tg_host_put(req.data, req.len);
    uint64_t b = body_len ? tg_host_put(body, body_len) : 0;
    uint64_t resp = extism_http_request(r, b);
    tg_http_response out;
    out.status = extism_http_status_code();
    out.body = tg_host_get(resp);
    if (out.body.data == NULL) out.body.data = (uint8_t *)tg_malloc(0);
    return out;
}

#ifdef __cplusplus
}
#endif
#endif /* TOOLGATE_H */
