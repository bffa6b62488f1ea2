// The conformance tool in C, on sdk/c/toolgate.h (Extism ABI, no libc). Behaviours: plugins/conformance/README.md.
// Build: clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -I sdk/c -o conformance-c.wasm conformance.c
#include "toolgate.h"

static int eq(tg_bytes b, const char *s) {
    size_t n = tg_strlen(s);
    if (b.len != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (b.data[i] != (uint8_t)s[i]) return 0;
    return 1;
}

static int32_t upper(tg_bytes arg) {
    if (!tg_utf8_valid(arg.data, arg.len)) return tg_error("upper: input is not valid UTF-8");
    for (size_t i = 0; i < arg.len; i++) {
        uint8_t c = arg.data[i];
        if (c >= 'a' && c <= 'z') {
            arg.data[i] = c - 0x20;
        } else if (c == 0xC3 && i + 1 < arg.len) { // U+00E0..U+00FE but U+00F7: the second byte A0..BE, not B7
            uint8_t d = arg.data[i + 1];
            if (d >= 0xA0 && d <= 0xBE && d != 0xB7) arg.data[i + 1] = d - 0x20;
            i++;
        }
    }
    tg_output(arg.data, arg.len);
    return 0;
}

static int32_t json(tg_bytes arg) {
    tg_bytes name;
    if (!tg_json_get_string(arg.data, arg.len, "name", &name)) return tg_error("json: want an object with a string \"name\"");
    tg_buf greeting = {0, 0, 0}, out = {0, 0, 0};
    tg_buf_append_str(&greeting, "Hello, ");
    tg_buf_append(&greeting, name.data, name.len);
    tg_buf_append_str(&greeting, "!");
    tg_buf_append_str(&out, "{\"greeting\":");
    tg_buf_append_json_string(&out, greeting.data, greeting.len);
    tg_buf_append_str(&out, ",\"length\":");
    tg_buf_append_uint(&out, name.len);
    tg_buf_append_str(&out, "}");
    tg_output(out.data, out.len);
    return 0;
}

static int32_t config(tg_bytes arg) {
    tg_buf key = {0, 0, 0};
    tg_buf_append(&key, arg.data, arg.len);
    tg_buf_append_byte(&key, 0);
    tg_bytes v = tg_config((const char *)key.data);
    if (v.data == NULL) {
        tg_buf m = {0, 0, 0};
        tg_buf_append_str(&m, "config: ");
        tg_buf_append(&m, arg.data, arg.len);
        tg_buf_append_str(&m, " is not set");
        return tg_error_n(m.data, m.len);
    }
    tg_output(v.data, v.len);
    return 0;
}

static int32_t log_lines(tg_bytes arg) {
    uint64_t count = 0;
    if (arg.len > 0) {
        size_t start = 0;
        for (size_t i = 0; i <= arg.len; i++) {
            if (i < arg.len && arg.data[i] != '\n') continue;
            static const tg_log_level levels[3] = {TG_LOG_INFO, TG_LOG_WARN, TG_LOG_ERROR};
            tg_log_n(levels[count % 3], arg.data + start, i - start);
            count++;
            start = i + 1;
        }
    }
    tg_buf out = {0, 0, 0};
    tg_buf_append_uint(&out, count);
    tg_output(out.data, out.len);
    return 0;
}

static int32_t big(tg_bytes arg) {
    uint64_t n = 0;
    if (arg.len == 0 || arg.len > 9) return tg_error("big: want a decimal size");
    for (size_t i = 0; i < arg.len; i++) {
        if (arg.data[i] < '0' || arg.data[i] > '9') return tg_error("big: want a decimal size");
        n = n * 10 + (arg.data[i] - '0');
    }
    uint8_t *out = (uint8_t *)tg_malloc(n);
    for (uint64_t i = 0; i < n; i++) out[i] = (uint8_t)('a' + i % 26);
    tg_output(out, n);
    return 0;
}

static int32_t http(tg_bytes arg) {
    tg_buf url = {0, 0, 0};
    tg_buf_append(&url, arg.data, arg.len);
    tg_buf_append_byte(&url, 0);
    tg_header h[1] = {{"Authorization", "Bearer {{secret:TOKEN}}"}};
    tg_http_response r = tg_http_request("GET", (const char *)url.data, h, 1, NULL, 0);
    tg_buf out = {0, 0, 0};
    tg_buf_append_uint(&out, (uint64_t)r.status);
    tg_buf_append_byte(&out, '\n');
    tg_buf_append(&out, r.body.data, r.body.len);
    tg_output(out.data, out.len);
    return 0;
}

TG_EXPORT("run") int32_t run(void) {
    tg_bytes in = tg_input(), cmd = in, arg = {in.data + in.len, 0};
    for (size_t i = 0; i < in.len; i++) {
        if (in.data[i] == ' ' || in.data[i] == '\n') {
            cmd.len = i;
            arg.data = in.data + i + 1;
            arg.len = in.len - i - 1;
            break;
        }
    }
    if (eq(cmd, "echo")) {
        tg_output(arg.data, arg.len);
        return 0;
    }
    if (eq(cmd, "upper")) return upper(arg);
    if (eq(cmd, "json")) return json(arg);
    if (eq(cmd, "error")) return arg.len ? tg_error_n(arg.data, arg.len) : tg_error("error");
    if (eq(cmd, "config")) return config(arg);
    if (eq(cmd, "log")) return log_lines(arg);
    if (eq(cmd, "big")) return big(arg);
    if (eq(cmd, "http")) return http(arg);
    if (eq(cmd, "trap")) __builtin_trap();
    tg_buf m = {0, 0, 0};
    tg_buf_append_str(&m, "unknown command \"");
    tg_buf_append(&m, cmd.data, cmd.len);
    tg_buf_append_str(&m, "\"");
    return tg_error_n(m.data, m.len);
}
