/*
 * microhost.h: the C guest SDK for microhost's ABI version 1 (see abi/ABI.md).
 *
 * Header-only, no dependency beyond wasi-libc. Build a handler with:
 *
 *     clang --target=wasm32-wasi -mexec-model=reactor -O2 -s -I path/to/abi/c \
 *           -o greeter.wasm greeter.c
 *
 * A module lists its endpoints in a table and names itself with MH_HANDLER_MODULE (or
 * MH_MODULE for a plugin of another kind), which defines the exports the host needs:
 *
 *     static int hello(const mh_request *req) {
 *         return mh_reply_str("{\"greeting\":\"Hello\"}");
 *     }
 *
 *     static const mh_endpoint endpoints[] = {
 *         {"Greeter.Hello", "HelloRequest", "HelloResponse", hello},
 *     };
 *
 *     MH_HANDLER_MODULE("greeter", "1.0.0", endpoints)
 *
 * A handler returns what mh_reply* or mh_error* return. Use MH_HANDLER_MODULE in exactly one
 * .c file of a module.
 */
#ifndef MICROHOST_H
#define MICROHOST_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- Host functions (ABI §5), imported from the "microhost" namespace. ---- */

#define MH__IMPORT(name) __attribute__((import_module("microhost"), import_name(name)))

MH__IMPORT("request_endpoint") uint32_t mh_host_request_endpoint(void *buf, uint32_t cap);
MH__IMPORT("request_body") uint32_t mh_host_request_body(void *buf, uint32_t cap);
MH__IMPORT("request_header")
int32_t mh_host_request_header(const void *key, uint32_t key_len, void *buf, uint32_t cap);
MH__IMPORT("response_body") void mh_host_response_body(const void *ptr, uint32_t len);
MH__IMPORT("response_header")
void mh_host_response_header(const void *key, uint32_t key_len, const void *val, uint32_t val_len);
MH__IMPORT("error") void mh_host_error(int32_t code, const void *detail, uint32_t detail_len);
MH__IMPORT("log") void mh_host_log(int32_t level, const void *msg, uint32_t msg_len);

/* ---- Statuses, log levels, module kinds. ---- */

/* MH_OK and MH_FAILED are what a handler returns; mh_reply* and mh_error* return them. */
#define MH_OK 0
#define MH_FAILED 1

#define MH_LOG_DEBUG (-4)
#define MH_LOG_INFO 0
#define MH_LOG_WARN 4
#define MH_LOG_ERROR 8

/* ---- A request and an endpoint table. ---- */

/* mh_request is one call. Its pointers are valid until the handler returns. */
typedef struct {
    const char *endpoint; /* "Greeter.Hello"; not NUL-terminated */
    size_t endpoint_len;
    const uint8_t *body; /* the request body in its content type */
    size_t body_len;
} mh_request;

/* mh_handler serves one endpoint; it returns MH_OK or MH_FAILED. */
typedef int (*mh_handler)(const mh_request *req);

/* mh_endpoint is one row of a module's endpoint table. request and response name the
 * message types for the registry and may be NULL. */
typedef struct {
    const char *name;
    const char *request;
    const char *response;
    mh_handler handler;
} mh_endpoint;

/* ---- Replies, errors, headers, logs. ---- */

/* mh_reply sets the reply body (the host copies it) and returns MH_OK. */
static inline int mh_reply(const void *body, size_t len) {
    mh_host_response_body(body, (uint32_t)len);
    return MH_OK;
}

/* mh_reply_str sets a NUL-terminated reply body and returns MH_OK. */
static inline int mh_reply_str(const char *body) { return mh_reply(body, strlen(body)); }

/* mh_error_n fails the call with a Go Micro error of code (400, 404, 500, ...) and the
 * len bytes of detail, and returns MH_FAILED. */
static inline int mh_error_n(int code, const char *detail, size_t len) {
    mh_host_error(code, detail, (uint32_t)len);
    return MH_FAILED;
}

/* mh_error fails the call with code and a NUL-terminated detail; returns MH_FAILED. */
static inline int mh_error(int code, const char *detail) {
    return mh_error_n(code, detail, strlen(detail));
}

/* mh_set_header adds a metadata key and value to the reply. */
static inline void mh_set_header(const char *key, const char *val) {
    mh_host_response_header(key, (uint32_t)strlen(key), val, (uint32_t)strlen(val));
}

/* mh_header looks a request header or metadata value up by name, case-insensitively. It
 * returns the value's length, or -1 when absent; the value is copied to buf only when it fits
 * in cap (so cap 0 asks for the length). Content-Type is always available. */
static inline int32_t mh_header(const char *key, char *buf, size_t cap) {
    return mh_host_request_header(key, (uint32_t)strlen(key), buf, (uint32_t)cap);
}

/* mh_log writes a NUL-terminated message to the host's log at level (MH_LOG_*). */
static inline void mh_log(int level, const char *msg) {
    mh_host_log(level, msg, (uint32_t)strlen(msg));
}

/* ---- A growable byte buffer, for building replies. ---- */

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
    int failed; /* set when an allocation failed; the buffer then stops growing */
} mh_buf;

/* mh_buf_append appends len bytes; it returns 0, or -1 when memory ran out. */
static inline int mh_buf_append(mh_buf *b, const void *p, size_t len) {
    if (b->failed) return -1;
    if (len > SIZE_MAX / 2 - b->len) { /* the doubling below would overflow */
        b->failed = 1;
        return -1;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len) cap *= 2;
        uint8_t *grown = (uint8_t *)realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return -1;
        }
        b->data = grown;
        b->cap = cap;
    }
    if (len) memcpy(b->data + b->len, p, len);
    b->len += len;
    return 0;
}

/* mh_buf_append_str appends a NUL-terminated string. */
static inline int mh_buf_append_str(mh_buf *b, const char *s) { return mh_buf_append(b, s, strlen(s)); }

/* mh_buf_free releases the buffer's memory and empties it. */
static inline void mh_buf_free(mh_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

/* mh_reply_buf replies with the buffer's bytes, or a 500 error if it ran out of memory. */
static inline int mh_reply_buf(const mh_buf *b) {
    if (b->failed) return mh_error(500, "out of memory");
    return mh_reply(b->data, b->len);
}

/* ---- A small JSON reader: one string field of an object. ---- */

#define MH_JSON_FOUND 1
#define MH_JSON_ABSENT 0
#define MH_JSON_MALFORMED (-1)

/* MH_JSON_MAX_DEPTH bounds nesting: the document's object is level 1, as in Go's
 * encoding/json, which refuses more than 10000 levels. */
#define MH_JSON_MAX_DEPTH 10000

static inline int mh__json_at(const uint8_t *s, size_t n, size_t i) { return i < n ? s[i] : -1; }

static inline size_t mh__json_ws(const uint8_t *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

static inline int mh__json_hex(int c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* mh__json_string checks the string starting with the quote at i; it returns the index just
 * past its closing quote, or 0 when it is malformed. */
static inline size_t mh__json_string(const uint8_t *s, size_t n, size_t i) {
    i++;
    for (;;) {
        int c = mh__json_at(s, n, i);
        if (c < 0x20) return 0; /* end of input, or a raw control character */
        if (c == '"') return i + 1;
        if (c != '\\') {
            i++;
            continue;
        }
        c = mh__json_at(s, n, i + 1);
        if (c == 'u') {
            for (size_t k = 2; k < 6; k++)
                if (!mh__json_hex(mh__json_at(s, n, i + k))) return 0;
            i += 6;
        } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                   c == 'r' || c == 't') {
            i += 2;
        } else {
            return 0;
        }
    }
}

static inline size_t mh__json_digits(const uint8_t *s, size_t n, size_t i) {
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    return i > start ? i : 0;
}

/* mh__json_number checks the number starting at i; returns the index past it, or 0. */
static inline size_t mh__json_number(const uint8_t *s, size_t n, size_t i) {
    if (mh__json_at(s, n, i) == '-') i++;
    if (mh__json_at(s, n, i) == '0') {
        i++;
    } else if (!(i = mh__json_digits(s, n, i))) {
        return 0;
    }
    if (mh__json_at(s, n, i) == '.' && !(i = mh__json_digits(s, n, i + 1))) return 0;
    int c = mh__json_at(s, n, i);
    if (c == 'e' || c == 'E') {
        i++;
        c = mh__json_at(s, n, i);
        if (c == '+' || c == '-') i++;
        if (!(i = mh__json_digits(s, n, i))) return 0;
    }
    return i;
}

static inline int mh__json_word(const uint8_t *s, size_t n, size_t i, const char *w) {
    size_t k = strlen(w);
    return i + k <= n && memcmp(s + i, w, k) == 0;
}

/* mh__json_value checks the value at i, nested depth levels deep, without recursion; it
 * returns the index past it, or 0 when it is malformed. */
static inline size_t mh__json_value(const uint8_t *s, size_t n, size_t i, int depth) {
    static uint8_t closers[MH_JSON_MAX_DEPTH];
    int top = 0; /* open containers inside this value */
    for (;;) {
        /* A value starts at i. */
        int c = mh__json_at(s, n, i);
        if (c == '{' || c == '[') {
            if (depth + top + 1 > MH_JSON_MAX_DEPTH) return 0;
            i = mh__json_ws(s, n, i + 1);
            int close = c == '{' ? '}' : ']';
            if (mh__json_at(s, n, i) == close) {
                i++;
            } else {
                closers[top++] = (uint8_t)close;
                if (close == '}') goto key;
                continue;
            }
        } else if (c == '"') {
            if (!(i = mh__json_string(s, n, i))) return 0;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (!(i = mh__json_number(s, n, i))) return 0;
        } else if (mh__json_word(s, n, i, "true")) {
            i += 4;
        } else if (mh__json_word(s, n, i, "false")) {
            i += 5;
        } else if (mh__json_word(s, n, i, "null")) {
            i += 4;
        } else {
            return 0;
        }
        /* After a value: close containers, or move on to the next element. */
        for (;;) {
            if (top == 0) return i;
            i = mh__json_ws(s, n, i);
            c = mh__json_at(s, n, i);
            if (c == closers[top - 1]) {
                top--;
                i++;
                continue;
            }
            if (c != ',') return 0;
            i = mh__json_ws(s, n, i + 1);
            if (closers[top - 1] == '}') goto key;
            break;
        }
        continue;
    key:
        /* An object member starts at i: "key" : value. */
        if (mh__json_at(s, n, i) != '"' || !(i = mh__json_string(s, n, i))) return 0;
        i = mh__json_ws(s, n, i);
        if (mh__json_at(s, n, i) != ':') return 0;
        i = mh__json_ws(s, n, i + 1);
    }
}

static inline int mh__json_key_is(const uint8_t *k, size_t len, const char *want) {
    if (len != strlen(want)) return 0;
    for (size_t i = 0; i < len; i++) {
        int a = k[i], b = (unsigned char)want[i];
        if (a >= 'A' && a <= 'Z') a += 'a' - 'A';
        if (b >= 'A' && b <= 'Z') b += 'a' - 'A';
        if (a != b) return 0;
    }
    return 1;
}

/* mh_json_string_field checks that doc is one JSON object (or null) and finds its member
 * key, matched as Go's encoding/json matches struct fields: exactly or ASCII
 * case-insensitively, the last one winning, null leaving it unset. It returns
 *
 *   MH_JSON_FOUND      with *val and *val_len set to the string's raw bytes between its
 *                      quotes: escapes such as \" and \u00e9 are left as they are, so the
 *                      bytes can be copied into another JSON string unchanged;
 *   MH_JSON_ABSENT     when the member is missing or null;
 *   MH_JSON_MALFORMED  when doc is not valid JSON, is not an object, or the member is
 *                      neither a string nor null.
 *
 * Member names are compared as written, without decoding escapes in them. */
static inline int mh_json_string_field(const uint8_t *doc, size_t len, const char *key,
                                       const uint8_t **val, size_t *val_len) {
    int found = MH_JSON_ABSENT;
    size_t i = mh__json_ws(doc, len, 0);
    if (mh__json_word(doc, len, i, "null")) {
        i += 4;
        goto end;
    }
    if (mh__json_at(doc, len, i) != '{') return MH_JSON_MALFORMED;
    i = mh__json_ws(doc, len, i + 1);
    if (mh__json_at(doc, len, i) == '}') {
        i++;
        goto end;
    }
    for (;;) {
        if (mh__json_at(doc, len, i) != '"') return MH_JSON_MALFORMED;
        size_t k = i + 1;
        if (!(i = mh__json_string(doc, len, i))) return MH_JSON_MALFORMED;
        int match = mh__json_key_is(doc + k, i - 1 - k, key);
        i = mh__json_ws(doc, len, i);
        if (mh__json_at(doc, len, i) != ':') return MH_JSON_MALFORMED;
        i = mh__json_ws(doc, len, i + 1);
        if (match && mh__json_at(doc, len, i) == '"') {
            size_t v = i + 1;
            if (!(i = mh__json_string(doc, len, i))) return MH_JSON_MALFORMED;
            *val = doc + v;
            *val_len = i - 1 - v;
            found = MH_JSON_FOUND;
        } else if (match && mh__json_word(doc, len, i, "null")) {
            i += 4;
        } else if (match) {
            return MH_JSON_MALFORMED;
        } else if (!(i = mh__json_value(doc, len, i, 1))) {
            return MH_JSON_MALFORMED;
        }
        i = mh__json_ws(doc, len, i);
        int c = mh__json_at(doc, len, i);
        if (c == '}') {
            i++;
            break;
        }
        if (c != ',') return MH_JSON_MALFORMED;
        i = mh__json_ws(doc, len, i + 1);
    }
end:
    if (mh__json_ws(doc, len, i) != len) return MH_JSON_MALFORMED;
    return found;
}

/* ---- The exports (ABI §1), defined by MH_MODULE. ---- */

/* mh__json_quote appends s as a JSON string. */
static inline void mh__json_quote(mh_buf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    mh_buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            mh_buf_append(b, esc, 2);
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            mh_buf_append(b, esc, 6);
        } else {
            mh_buf_append(b, &c, 1);
        }
    }
    mh_buf_append(b, "\"", 1);
}

/* mh__describe builds the descriptor JSON once and returns ptr<<32|len. */
static inline uint64_t mh__describe(const char *kind, const char *name, const char *version,
                                    const mh_endpoint *eps, size_t n) {
    static mh_buf d;
    if (d.len == 0) {
        mh_buf_append_str(&d, "{\"kind\":");
        mh__json_quote(&d, kind);
        mh_buf_append_str(&d, ",\"name\":");
        mh__json_quote(&d, name);
        if (version && *version) {
            mh_buf_append_str(&d, ",\"version\":");
            mh__json_quote(&d, version);
        }
        if (n) {
            mh_buf_append_str(&d, ",\"endpoints\":[");
            for (size_t i = 0; i < n; i++) {
                mh_buf_append_str(&d, i ? ",{\"name\":" : "{\"name\":");
                mh__json_quote(&d, eps[i].name);
                if (eps[i].request && *eps[i].request) {
                    mh_buf_append_str(&d, ",\"request\":");
                    mh__json_quote(&d, eps[i].request);
                }
                if (eps[i].response && *eps[i].response) {
                    mh_buf_append_str(&d, ",\"response\":");
                    mh__json_quote(&d, eps[i].response);
                }
                mh_buf_append_str(&d, "}");
            }
            mh_buf_append_str(&d, "]");
        }
        mh_buf_append_str(&d, "}");
        if (d.failed) return 0;
    }
    return (uint64_t)(uintptr_t)d.data << 32 | (uint64_t)d.len;
}

/* mh__handle reads the request into a buffer reused across calls and dispatches it. */
static inline int mh__handle(uint32_t endpoint_len, uint32_t body_len, const mh_endpoint *eps,
                             size_t n) {
    static uint8_t *buf;
    static size_t cap;
    if ((uint64_t)endpoint_len + body_len + 1 > SIZE_MAX) return mh_error(500, "out of memory");
    size_t need = (size_t)endpoint_len + body_len + 1;
    if (need > cap) {
        uint8_t *grown = (uint8_t *)realloc(buf, need);
        if (!grown) return mh_error(500, "out of memory");
        buf = grown;
        cap = need;
    }
    mh_host_request_endpoint(buf, endpoint_len);
    mh_host_request_body(buf + endpoint_len, body_len);
    mh_request req = {(const char *)buf, endpoint_len, buf + endpoint_len, body_len};
    for (size_t i = 0; i < n; i++) {
        if (strlen(eps[i].name) == endpoint_len && memcmp(eps[i].name, buf, endpoint_len) == 0)
            return eps[i].handler(&req) == MH_OK ? MH_OK : MH_FAILED;
    }
    mh_buf msg = {0};
    mh_buf_append_str(&msg, "unknown endpoint ");
    mh_buf_append(&msg, buf, endpoint_len);
    int status = msg.failed ? mh_error(404, "unknown endpoint") : mh_error_n(404, (const char *)msg.data, msg.len);
    mh_buf_free(&msg);
    return status;
}

/* MH_MODULE defines the module's exports: a module of kind ("handler", "codec", ...) called
 * name at version, serving the endpoints (or operations) of the array eps. */
#define MH_MODULE(kind, name, version, eps)                                                  \
    __attribute__((export_name("microhost_abi_version_1"))) void mh__abi_version_1(void) {}  \
    __attribute__((export_name("microhost_describe"))) uint64_t mh__export_describe(void) {  \
        return mh__describe(kind, name, version, eps, sizeof(eps) / sizeof((eps)[0]));       \
    }                                                                                        \
    __attribute__((export_name("microhost_handle"))) uint32_t mh__export_handle(             \
        uint32_t endpoint_len, uint32_t body_len) {                                          \
        return (uint32_t)mh__handle(endpoint_len, body_len, eps, sizeof(eps) / sizeof((eps)[0])); \
    }

/* MH_HANDLER_MODULE defines the exports of a handler module. */
#define MH_HANDLER_MODULE(name, version, eps) MH_MODULE("handler", name, version, eps)

#endif /* MICROHOST_H */
