// The conformance tool in AssemblyScript, on sdk/assemblyscript/toolgate.ts over @extism/as-pdk (Extism ABI;
// plugins/conformance/README.md).
// Build: asc conformance.ts --outFile conformance-as.wasm --optimize --use abort=toolgate/abort
import * as tool from "./toolgate";

function is(cmd: Uint8Array, name: string): bool {
  const n = tool.utf8(name);
  if (cmd.length != n.length) return false;
  for (let i = 0; i < n.length; i++) if (cmd[i] != n[i]) return false;
  return true;
}

function upper(arg: Uint8Array): i32 {
  if (!tool.utf8Valid(arg)) return tool.fail("upper: input is not valid UTF-8");
  const out = arg.slice(0);
  for (let i = 0; i < out.length; i++) {
    const c = out[i];
    if (c >= 0x61 && c <= 0x7a) out[i] = c - 0x20;
    else if (c == 0xc3 && i + 1 < out.length) {
      const d = out[i + 1];
      if (d >= 0xa0 && d <= 0xbe && d != 0xb7) out[i + 1] = d - 0x20;
      i++;
    }
  }
  tool.output(out);
  return 0;
}

function json(arg: Uint8Array): i32 {
  const name = tool.jsonGetString(arg, "name");
  if (name === null) return tool.fail('json: want an object with a string "name"');
  const greeting = new tool.Bytes().appendString("Hello, ").append(name).appendString("!");
  const out = new tool.Bytes().appendString('{"greeting":').appendJSONString(greeting.bytes());
  out.appendString(',"length":' + name.length.toString() + "}");
  tool.output(out.bytes());
  return 0;
}

function config(arg: Uint8Array): i32 {
  const key = String.UTF8.decode(arg.slice(0).buffer);
  const v = tool.config(key);
  if (v === null) return tool.fail("config: " + key + " is not set");
  tool.outputString(v);
  return 0;
}

function logLines(arg: Uint8Array): i32 {
  let count = 0;
  if (arg.length > 0) {
    let start = 0;
    for (let i = 0; i <= arg.length; i++) {
      if (i < arg.length && arg[i] != 0x0a) continue;
      const level = count % 3 == 0 ? tool.Level.Info : count % 3 == 1 ? tool.Level.Warn : tool.Level.Error;
      tool.logBytes(level, arg.slice(start, i));
      count++;
      start = i + 1;
    }
  }
  tool.outputString(count.toString());
  return 0;
}

function big(arg: Uint8Array): i32 {
  if (arg.length == 0 || arg.length > 9) return tool.fail("big: want a decimal size");
  let n = 0;
  for (let i = 0; i < arg.length; i++) {
    if (arg[i] < 0x30 || arg[i] > 0x39) return tool.fail("big: want a decimal size");
    n = n * 10 + (arg[i] - 0x30);
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = <u8>(0x61 + (i % 26));
  tool.output(out);
  return 0;
}

function http(arg: Uint8Array): i32 {
  const req = new tool.Request();
  req.url = String.UTF8.decode(arg.slice(0).buffer);
  req.headers.set("Authorization", "Bearer " + tool.secret("TOKEN"));
  const resp = tool.send(req);
  tool.output(new tool.Bytes().appendString(resp.status.toString() + "\n").append(resp.body).bytes());
  return 0;
}

export function run(): i32 {
  const input = tool.input();
  let cmd = input;
  let arg = input.subarray(input.length);
  for (let i = 0; i < input.length; i++) {
    if (input[i] == 0x20 || input[i] == 0x0a) {
      cmd = input.subarray(0, i);
      arg = input.subarray(i + 1);
      break;
    }
  }
  if (is(cmd, "echo")) {
    tool.output(arg);
    return 0;
  }
  if (is(cmd, "upper")) return upper(arg);
  if (is(cmd, "json")) return json(arg);
  if (is(cmd, "error")) return arg.length > 0 ? tool.failBytes(arg) : tool.fail("error");
  if (is(cmd, "config")) return config(arg);
  if (is(cmd, "log")) return logLines(arg);
  if (is(cmd, "big")) return big(arg);
  if (is(cmd, "http")) return http(arg);
  if (is(cmd, "trap")) unreachable();
  return tool.failBytes(new tool.Bytes().appendString('unknown command "').append(cmd).appendString('"').bytes());
}
