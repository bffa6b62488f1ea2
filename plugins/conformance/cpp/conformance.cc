// The conformance tool in C++, on sdk/c/toolgate.h (Extism ABI, no libc, no exceptions, no RTTI): the same
// behaviours as the C build (plugins/conformance/README.md), written the C++ way — a command table of lambdas
// and a small RAII-free string builder over tg_buf.
// Build: clang++ --target=wasm32 -O2 -nostdlib -fno-exceptions -fno-rtti -Wl,--no-entry -I sdk/c \
//          -o conformance-cpp.wasm conformance.cc
#include "toolgate.h"

namespace {

struct View {
    uint8_t *data;
    size_t len;

    bool operator==(const char *s) const {
        size_t n = tg_strlen(s);
        if (n != len) return false;
        for (size_t i = 0; i < n; i++)
            if (data[i] != static_cast<uint8_t>(s[i])) return false;
        return true;
    }
};

class Builder {
  public:
    Builder &operator<<(const char *s) {
        tg_buf_append_str(&buf_, s);
        return *this;
    }
    Builder &operator<<(View v) {
        tg_buf_append(&buf_, v.data, v.len);
        return *this;
    }
    Builder &operator<<(uint64_t n) {
        tg_buf_append_uint(&buf_, n);
        return *this;
    }
    Builder &json(View v) {
        tg_buf_append_json_string(&buf_, v.data, v.len);
        return *this;
    }
    View view() const { return View{buf_.data, buf_.len}; }
    const char *c_str() {
        tg_buf_append_byte(&buf_, 0);
        buf_.len--;
        return reinterpret_cast<const char *>(buf_.data);
    }
    int32_t output() {
        tg_output(buf_.data, buf_.len);
        return 0;
    }
    int32_t fail() { return tg_error_n(buf_.data, buf_.len); }

  private:
    tg_buf buf_{nullptr, 0, 0};
};

int32_t upper(View arg) {
    if (!tg_utf8_valid(arg.data, arg.len)) return tg_error("upper: input is not valid UTF-8");
    for (size_t i = 0; i < arg.len; i++) {
        uint8_t c = arg.data[i];
        if (c >= 'a' && c <= 'z') {
            arg.data[i] = c - 0x20;
        } else if (c == 0xC3 && i + 1 < arg.len) {
            uint8_t &d = arg.data[++i];
            if (d >= 0xA0 && d <= 0xBE && d != 0xB7) d -= 0x20;
        }
    }
    tg_output(arg.data, arg.len);
    return 0;
}

int32_t json(View arg) {
    tg_bytes name;
    if (!tg_json_get_string(arg.data, arg.len, "name", &name)) return tg_error("json: want an object with a string \"name\"");
    Builder greeting, out;
    greeting << "Hello, " << View{name.data, name.len} << "!";
    out << "{\"greeting\":";
    out.json(greeting.view()) << ",\"length\":" << static_cast<uint64_t>(name.len) << "}";
    return out.output();
}

int32_t config(View arg) {
    Builder key;
    key << arg;
    tg_bytes v = tg_config(key.c_str());
    if (v.data == nullptr) return (Builder() << "config: " << arg << " is not set").fail();
    tg_output(v.data, v.len);
    return 0;
}

int32_t logLines(View arg) {
    static constexpr tg_log_level levels[] = {TG_LOG_INFO, TG_LOG_WARN, TG_LOG_ERROR};
    uint64_t count = 0;
    if (arg.len > 0) {
        size_t start = 0;
        for (size_t i = 0; i <= arg.len; i++) {
            if (i < arg.len && arg.data[i] != '\n') continue;
            tg_log_n(levels[count % 3], arg.data + start, i - start);
            count++;
            start = i + 1;
        }
    }
    return (Builder() << count).output();
}

int32_t big(View arg) {
    uint64_t n = 0;
    if (arg.len == 0 || arg.len > 9) return tg_error("big: want a decimal size");
    for (size_t i = 0; i < arg.len; i++) {
        if (arg.data[i] < '0' || arg.data[i] > '9') return tg_error("big: want a decimal size");
        n = n * 10 + (arg.data[i] - '0');
    }
    auto *out = static_cast<uint8_t *>(tg_malloc(n));
    for (uint64_t i = 0; i < n; i++) out[i] = static_cast<uint8_t>('a' + i % 26);
    tg_output(out, n);
    return 0;
}

int32_t http(View arg) {
    Builder url;
    url << arg;
    const tg_header headers[] = {{"Authorization", "Bearer {{secret:TOKEN}}"}};
    tg_http_response r = tg_http_request("GET", url.c_str(), headers, 1, nullptr, 0);
    return (Builder() << static_cast<uint64_t>(r.status) << "\n" << View{r.body.data, r.body.len}).output();
}

struct Command {
    const char *name;
    int32_t (*run)(View arg);
};

const Command commands[] = {
    {"echo", [](View a) -> int32_t { tg_output(a.data, a.len); return 0; }},
    {"upper", upper},
    {"json", json},
    {"error", [](View a) -> int32_t { return a.len ? tg_error_n(a.data, a.len) : tg_error("error"); }},
    {"config", config},
    {"log", logLines},
    {"big", big},
    {"http", http},
    {"trap", [](View) -> int32_t { __builtin_trap(); }},
};

} // namespace

TG_EXPORT("run") int32_t run() {
    tg_bytes in = tg_input();
    View cmd{in.data, in.len}, arg{in.data + in.len, 0};
    for (size_t i = 0; i < in.len; i++) {
        if (in.data[i] == ' ' || in.data[i] == '\n') {
            cmd.len = i;
            arg = View{in.data + i + 1, in.len - i - 1};
            break;
        }
    }
    for (const Command &c : commands)
        if (cmd == c.name) return c.run(arg);
    return (Builder() << "unknown command \"" << cmd << "\"").fail();
}
