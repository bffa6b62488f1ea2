//! The conformance tool in Zig 0.11, on sdk/zig/toolgate.zig (Extism ABI; plugins/conformance/README.md).
//! Build: zig build-lib conformance.zig -target wasm32-freestanding -dynamic -rdynamic -O ReleaseSmall
const std = @import("std");
const tool = @import("toolgate.zig");

fn upper(arg: []u8) i32 {
    if (!std.unicode.utf8ValidateSlice(arg)) return tool.fail("upper: input is not valid UTF-8");
    var i: usize = 0;
    while (i < arg.len) : (i += 1) {
        const c = arg[i];
        if (c >= 'a' and c <= 'z') {
            arg[i] = c - 0x20;
        } else if (c == 0xC3 and i + 1 < arg.len) {
            const d = arg[i + 1];
            if (d >= 0xA0 and d <= 0xBE and d != 0xB7) arg[i + 1] = d - 0x20;
            i += 1;
        }
    }
    tool.output(arg);
    return 0;
}

fn json(arg: []const u8) i32 {
    const name = tool.jsonGetString(arg, "name") orelse return tool.fail("json: want an object with a string \"name\"");
    const greeting = tool.must(std.fmt.allocPrint(tool.allocator, "Hello, {s}!", .{name}));
    var out = std.ArrayList(u8).init(tool.allocator);
    tool.must(out.appendSlice("{\"greeting\":"));
    tool.writeJSONString(&out, greeting);
    tool.must(out.writer().print(",\"length\":{d}}}", .{name.len}));
    tool.output(out.items);
    return 0;
}

fn logLines(arg: []const u8) i32 {
    var n: usize = 0;
    if (arg.len > 0) {
        var it = std.mem.splitScalar(u8, arg, '\n');
        while (it.next()) |line| : (n += 1) {
            tool.log(([_]tool.Level{ .info, .warn, .err })[n % 3], line);
        }
    }
    tool.output(tool.must(std.fmt.allocPrint(tool.allocator, "{d}", .{n})));
    return 0;
}

fn big(arg: []const u8) i32 {
    if (arg.len == 0 or arg.len > 9) return tool.fail("big: want a decimal size");
    for (arg) |c| if (c < '0' or c > '9') return tool.fail("big: want a decimal size");
    const n = std.fmt.parseInt(usize, arg, 10) catch return tool.fail("big: want a decimal size");
    const out = tool.must(tool.allocator.alloc(u8, n));
    for (out, 0..) |*b, i| b.* = @intCast('a' + i % 26);
    tool.output(out);
    return 0;
}

fn http(arg: []const u8) i32 {
    const auth = tool.must(std.fmt.allocPrint(tool.allocator, "Bearer {s}", .{tool.secret("TOKEN")}));
    const resp = tool.send(.{ .url = arg, .headers = &.{.{ .name = "Authorization", .value = auth }} });
    tool.output(tool.must(std.fmt.allocPrint(tool.allocator, "{d}\n{s}", .{ resp.status, resp.body })));
    return 0;
}

export fn run() i32 {
    const in = tool.input();
    var cmd: []u8 = in;
    var arg: []u8 = in[in.len..];
    if (std.mem.indexOfAny(u8, in, " \n")) |i| {
        cmd = in[0..i];
        arg = in[i + 1 ..];
    }
    const eql = std.mem.eql;
    if (eql(u8, cmd, "echo")) {
        tool.output(arg);
        return 0;
    }
    if (eql(u8, cmd, "upper")) return upper(arg);
    if (eql(u8, cmd, "json")) return json(arg);
    if (eql(u8, cmd, "error")) return tool.fail(if (arg.len > 0) arg else "error");
    if (eql(u8, cmd, "config")) {
        const v = tool.config(arg) orelse return tool.failf("config: {s} is not set", .{arg});
        tool.output(v);
        return 0;
    }
    if (eql(u8, cmd, "log")) return logLines(arg);
    if (eql(u8, cmd, "big")) return big(arg);
    if (eql(u8, cmd, "http")) return http(arg);
    if (eql(u8, cmd, "trap")) tool.trap();
    return tool.failf("unknown command \"{s}\"", .{cmd});
}
