// The conformance tool in C as a WASI command (wasi-libc): input on stdin, output on stdout, the error on stderr
// with exit code 1 (plugins/conformance/README.md). A WASI command has no config, log door or network: config,
// log and http are unknown commands here. The UTF-8 and JSON helpers come from sdk/c/toolgate.h, which uses the
// libc's malloc under WASI.
// Build: clang --target=wasm32-wasi -O2 -I sdk/c -o conformance-c-cmd.wasm conformance_cmd.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "toolgate.h"

static void fail(const void *msg, size_t n) {
    fwrite(msg, 1, n, stderr);
    exit(1);
}
static void fails(const char *msg) { fail(msg, strlen(msg)); }

int main(void) {
    tg_buf in = {0, 0, 0};
    char chunk[65536];
    ssize_t r;
    while ((r = read(0, chunk, sizeof chunk)) > 0) tg_buf_append(&in, chunk, (size_t)r);
    if (r < 0) fails("read stdin failed");

    size_t cmdlen = in.len, argoff = in.len;
    for (size_t i = 0; i < in.len; i++) {
        if (in.data[i] == ' ' || in.data[i] == '\n') {
            cmdlen = i;
            argoff = i + 1;
            break;
        }
    }
    const char *cmd = (const char *)in.data;
    uint8_t *arg = in.data + argoff;
    size_t arglen = in.len - argoff;
#define IS(name) (cmdlen == strlen(name) && memcmp(cmd, name, cmdlen) == 0)

    tg_buf out = {0, 0, 0};
    if (IS("echo")) {
        tg_buf_append(&out, arg, arglen);
    } else if (IS("upper")) {
        if (!tg_utf8_valid(arg, arglen)) fails("upper: input is not valid UTF-8");
        for (size_t i = 0; i < arglen; i++) {
            uint8_t c = arg[i];
            if (c >= 'a' && c <= 'z') {
                arg[i] = c - 0x20;
            } else if (c == 0xC3 && i + 1 < arglen) {
                uint8_t d = arg[i + 1];
                if (d >= 0xA0 && d <= 0xBE && d != 0xB7) arg[i + 1] = d - 0x20;
                i++;
            }
        }
        tg_buf_append(&out, arg, arglen);
    } else if (IS("json")) {
        tg_bytes name;
        if (!tg_json_get_string(arg, arglen, "name", &name)) fails("json: want an object with a string \"name\"");
        tg_buf g = {0, 0, 0};
        tg_buf_append_str(&g, "Hello, ");
        tg_buf_append(&g, name.data, name.len);
        tg_buf_append_str(&g, "!");
        tg_buf_append_str(&out, "{\"greeting\":");
        tg_buf_append_json_string(&out, g.data, g.len);
        tg_buf_append_str(&out, ",\"length\":");
        tg_buf_append_uint(&out, name.len);
        tg_buf_append_str(&out, "}");
    } else if (IS("error")) {
        if (arglen == 0) fails("error");
        fail(arg, arglen);
    } else if (IS("big")) {
        uint64_t n = 0;
        if (arglen == 0 || arglen > 9) fails("big: want a decimal size");
        for (size_t i = 0; i < arglen; i++) {
            if (arg[i] < '0' || arg[i] > '9') fails("big: want a decimal size");
            n = n * 10 + (arg[i] - '0');
        }
        tg_buf_grow(&out, n);
        for (uint64_t i = 0; i < n; i++) out.data[i] = (uint8_t)('a' + i % 26);
        out.len = n;
    } else if (IS("trap")) {
        __builtin_trap();
    } else {
        fprintf(stderr, "unknown command \"%.*s\"", (int)cmdlen, cmd);
        exit(1);
    }
    fwrite(out.data, 1, out.len, stdout);
    return 0;
}
