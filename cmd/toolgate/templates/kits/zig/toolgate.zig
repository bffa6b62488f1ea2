//! toolgate.zig — write a Toolgate tool (an Extism-ABI plugin) in Zig 0.11 with nothing but the standard library.
//!
//!     const tool = @import("toolgate.zig");
//!
//!     export fn run() i32 {
//!         const in = tool.input();
//!         tool.output(in);
//!         return 0; // or: return tool.fail("what went wrong");
//!     }
//!
//! Build (see docs/plugins.md):
//!
//!     zig build-lib tool.zig -target wasm32-freestanding -dynamic -rdynamic -O ReleaseSmall
//!
//! Covered: input and output, tool errors, config values, log lines, HTTP through Toolgate's network door with
//! {{secret:NAME}} placeholders, and JSON (std.json to read; writeJSONString writes a string the way every
//! Toolgate kit does). Memory comes from std.heap.wasm_allocator; an allocation the memory limit refuses traps.
//! The ABI is docs/ABI.md.
const std = @import("std");

/// The allocator the kit uses, and a good one for the tool: every call runs in a fresh sandbox.
pub const allocator = std.heap.wasm_allocator;

/// The raw Extism kernel functions of module "extism:host/env"; offsets are into the host's memory.
pub const sys = struct {
    pub extern "extism:host/env" fn input_length() u64;
    pub extern "extism:host/env" fn input_load_u8(off: u64) u32;
    pub extern "extism:host/env" fn input_load_u64(off: u64) u64;
    pub extern "extism:host/env" fn alloc(len: u64) u64;
    pub extern "extism:host/env" fn free(off: u64) void;
    pub extern "extism:host/env" fn length(off: u64) u64;
    pub extern "extism:host/env" fn load_u8(off: u64) u32;
    pub extern "extism:host/env" fn load_u64(off: u64) u64;
    pub extern "extism:host/env" fn store_u8(off: u64, v: u32) void;
    pub extern "extism:host/env" fn store_u64(off: u64, v: u64) void;
    pub extern "extism:host/env" fn output_set(off: u64, len: u64) void;
    pub extern "extism:host/env" fn error_set(off: u64) void;
    pub extern "extism:host/env" fn config_get(key: u64) u64;
    pub extern "extism:host/env" fn http_request(req: u64, body: u64) u64;
    pub extern "extism:host/env" fn http_status_code() i32;
    pub extern "extism:host/env" fn log_debug(off: u64) void;
    pub extern "extism:host/env" fn log_info(off: u64) void;
    pub extern "extism:host/env" fn log_warn(off: u64) void;
    pub extern "extism:host/env" fn log_error(off: u64) void;
};

/// Traps: the call's status becomes trap.
pub fn trap() noreturn {
    @trap();
}

/// Returns v, or traps on an error (out of memory under the call's memory limit).
pub fn must(v: anytype) @typeInfo(@TypeOf(v)).ErrorUnion.payload {
    return v catch trap();
}

/// Copies b into a fresh block of host memory and returns its offset.
pub fn hostPut(b: []const u8) u64 {
    const off = sys.alloc(b.len);
    var i: usize = 0;
    while (i + 8 <= b.len) : (i += 8) sys.store_u64(off + i, std.mem.readIntLittle(u64, b[i..][0..8]));
    while (i < b.len) : (i += 1) sys.store_u8(off + i, b[i]);
    return off;
}

/// Copies the host block at off into memory from allocator (empty for offset 0).
pub fn hostGet(off: u64) []u8 {
    if (off == 0) return &[_]u8{};
    const n: usize = @intCast(sys.length(off));
    const b = must(allocator.alloc(u8, n));
    var i: usize = 0;
    while (i + 8 <= n) : (i += 8) std.mem.writeIntLittle(u64, b[i..][0..8], sys.load_u64(off + i));
    while (i < n) : (i += 1) b[i] = @truncate(sys.load_u8(off + i));
    return b;
}

/// The call's input bytes.
pub fn input() []u8 {
    const n: usize = @intCast(sys.input_length());
    const b = must(allocator.alloc(u8, n));
    var i: usize = 0;
    while (i + 8 <= n) : (i += 8) std.mem.writeIntLittle(u64, b[i..][0..8], sys.input_load_u64(i));
    while (i < n) : (i += 1) b[i] = @truncate(sys.input_load_u8(i));
    return b;
}

/// Sets the call's output (the last call wins).
pub fn output(b: []const u8) void {
    sys.output_set(hostPut(b), b.len);
}

/// Sets the tool error message and returns 1, so an entry point can end with `return tool.fail("…")`. The call's
/// status is then tool_error, and the caller sees the message.
pub fn fail(msg: []const u8) i32 {
    sys.error_set(hostPut(msg));
    return 1;
}

/// fail with a formatted message.
pub fn failf(comptime fmt: []const u8, args: anytype) i32 {
    return fail(must(std.fmt.allocPrint(allocator, fmt, args)));
}

/// The value of config key (the version document's "config"), or null. An empty value reads as null (the ABI
/// does not tell them apart).
pub fn config(key: []const u8) ?[]u8 {
    const k = hostPut(key);
    const v = sys.config_get(k);
    sys.free(k);
    if (v == 0 or sys.length(v) == 0) return null;
    return hostGet(v);
}

pub const Level = enum { debug, info, warn, err };

/// Writes one log line. Toolgate keeps info and above, the first lines of a call, and counts all of them.
pub fn log(level: Level, msg: []const u8) void {
    const off = hostPut(msg);
    switch (level) {
        .debug => sys.log_debug(off),
        .info => sys.log_info(off),
        .warn => sys.log_warn(off),
        .err => sys.log_error(off),
    }
}

/// The placeholder for secret name, "{{secret:NAME}}", for a request's header values or body: the network door
/// substitutes the value for a destination the grants allow; the tool never sees it.
pub fn secret(name: []const u8) []u8 {
    return must(std.fmt.allocPrint(allocator, "{{{{secret:{s}}}}}", .{name}));
}

pub const Header = struct { name: []const u8, value: []const u8 };

/// An HTTP request for the network door.
pub const Request = struct {
    method: []const u8 = "GET",
    url: []const u8,
    headers: []const Header = &.{},
    body: []const u8 = "",
};

/// What the door returned.
pub const Response = struct { status: i32, body: []u8 };

/// Sends req through Toolgate's network door. The door lets it out only to a destination the version's grants
/// allow, fills in the granted secrets, and masks them in the response; every attempt is a line of the call's
/// receipt, and a refused request ends the call (today with status trap).
pub fn send(req: Request) Response {
    var j = std.ArrayList(u8).init(allocator);
    must(j.appendSlice("{\"method\":"));
    writeJSONString(&j, req.method);
    must(j.appendSlice(",\"url\":"));
    writeJSONString(&j, req.url);
    must(j.appendSlice(",\"headers\":{"));
    for (req.headers, 0..) |h, i| {
        if (i > 0) must(j.append(','));
        writeJSONString(&j, h.name);
        must(j.append(':'));
        writeJSONString(&j, h.value);
    }
    must(j.appendSlice("}}"));
    const r = hostPut(j.items);
    const b: u64 = if (req.body.len > 0) hostPut(req.body) else 0;
    const resp = sys.http_request(r, b);
    return .{ .status = sys.http_status_code(), .body = hostGet(resp) };
}

/// Appends s as a JSON string: quotes, backslashes and control characters escaped (\b \f \n \r \t, else
/// \u00XX), everything else, UTF-8 included, as is.
pub fn writeJSONString(out: *std.ArrayList(u8), s: []const u8) void {
    const hex = "0123456789abcdef";
    must(out.append('"'));
    for (s) |c| {
        switch (c) {
            '"' => must(out.appendSlice("\\\"")),
            '\\' => must(out.appendSlice("\\\\")),
            0x08 => must(out.appendSlice("\\b")),
            0x0c => must(out.appendSlice("\\f")),
            '\n' => must(out.appendSlice("\\n")),
            '\r' => must(out.appendSlice("\\r")),
            '\t' => must(out.appendSlice("\\t")),
            0...0x07, 0x0b, 0x0e...0x1f => must(out.appendSlice(&[_]u8{ '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] })),
            else => must(out.append(c)),
        }
    }
    must(out.append('"'));
}

/// The string field key of the JSON object doc, or null when doc is not an object, key is absent, or its value
/// is not a string.
pub fn jsonGetString(doc: []const u8, key: []const u8) ?[]const u8 {
    const parsed = std.json.parseFromSlice(std.json.Value, allocator, doc, .{}) catch return null;
    switch (parsed.value) {
        .object => |o| {
            const v = o.get(key) orelse return null;
            return switch (v) {
                .string => |s| s,
                else => null,
            };
        },
        else => return null,
    }
}
