// toolgate.ts — write a Toolgate tool (an Extism-ABI plugin) in AssemblyScript, on @extism/as-pdk 1.0.0.
//
//   import * as tool from "./toolgate";
//
//   export function run(): i32 {
//     const name = tool.inputString();
//     tool.outputString("Hello, " + name + "!");  // UTF-8 done right
//     return 0;                                   // or: return tool.fail("what went wrong")
//   }
//
// Build (asc 0.28.20 and @extism/as-pdk 1.0.0 from npm; see docs/plugins.md):
//   npx asc index.ts --outFile tool.wasm --optimize --use abort=toolgate/abort
//
// What it adds to as-pdk: outputString, fail and log that write UTF-8 correctly (as-pdk 1.0.0's outputString
// passes the UTF-16 length, so non-ASCII text is cut short) and copy 8 bytes per host call; tool errors; HTTP
// through Toolgate's network door with {{secret:NAME}} placeholders (as-pdk 1.0.0 has no HTTP helper); a
// growable byte buffer; strict UTF-8 validation; and the small JSON needs of a tool (read a string field of an
// object, write an escaped string). The ABI is docs/ABI.md.
import { Config, Host } from "@extism/as-pdk";
import {
  alloc,
  error_set,
  http_request,
  length,
  load_u64,
  load_u8,
  log_debug,
  log_error,
  log_info,
  log_warn,
  output_set,
  store_u64,
  store_u8,
} from "@extism/as-pdk/lib/env";

@external("extism:host/env", "http_status_code")
declare function http_status_code(): i32;

// abort traps: the call's status becomes trap. Name it with `--use abort=toolgate/abort` so that the module does
// not import env.abort, which the host does not provide.
export function abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}

// hostPut copies bytes into a fresh block of host memory and returns its offset, 8 bytes per host call. (as-pdk
// 1.0.0's Memory.store reads a subarray from the start of its buffer, not from its own offset.)
export function hostPut(b: Uint8Array): u64 {
  const n = b.length;
  const off = alloc(<u64>n);
  const p = b.dataStart;
  let i = 0;
  for (; i + 8 <= n; i += 8) store_u64(off + <u64>i, load<u64>(p + <usize>i));
  for (; i < n; i++) store_u8(off + <u64>i, load<u8>(p + <usize>i));
  return off;
}

// hostGet copies the host block at off into a new array (empty for offset 0).
export function hostGet(off: u64): Uint8Array {
  if (off == 0) return new Uint8Array(0);
  const n = <i32>length(off);
  const b = new Uint8Array(n);
  const p = b.dataStart;
  let i = 0;
  for (; i + 8 <= n; i += 8) store<u64>(p + <usize>i, load_u64(off + <u64>i));
  for (; i < n; i++) store<u8>(p + <usize>i, load_u8(off + <u64>i));
  return b;
}

// utf8 returns the UTF-8 bytes of s.
export function utf8(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

// input returns the call's input bytes.
export function input(): Uint8Array {
  return Host.input();
}

// inputString returns the call's input decoded as UTF-8 (invalid sequences become U+FFFD).
export function inputString(): string {
  return String.UTF8.decode(Host.input().buffer);
}

// output sets the call's output (the last call wins).
export function output(b: Uint8Array): void {
  output_set(hostPut(b), <u64>b.length);
}

// outputString sets the call's output to the UTF-8 bytes of s.
export function outputString(s: string): void {
  output(utf8(s));
}

// fail sets the tool error message and returns 1, so an entry point can end with `return tool.fail("…")`. The
// call's status is then tool_error, and the caller sees the message.
export function fail(msg: string): i32 {
  return failBytes(utf8(msg));
}

// failBytes is fail with a message in bytes.
export function failBytes(msg: Uint8Array): i32 {
  error_set(hostPut(msg));
  return 1;
}

// config returns the value of a config key (the version document's "config"), or null. An empty value reads as
// null (the ABI does not tell them apart).
export function config(key: string): string | null {
  return Config.get(key);
}

export enum Level {
  Debug,
  Info,
  Warn,
  Error,
}

// log writes one log line. Toolgate keeps Info and above, the first lines of a call, and counts all of them.
export function log(level: Level, msg: string): void {
  logBytes(level, utf8(msg));
}

// logBytes is log with a message in bytes.
export function logBytes(level: Level, msg: Uint8Array): void {
  const off = hostPut(msg);
  switch (level) {
    case Level.Debug:
      log_debug(off);
      break;
    case Level.Info:
      log_info(off);
      break;
    case Level.Warn:
      log_warn(off);
      break;
    default:
      log_error(off);
  }
}

// secret returns the placeholder for secret name, "{{secret:NAME}}", for a request's header values or body: the
// network door substitutes the value for a destination the grants allow; the tool never sees it.
export function secret(name: string): string {
  return "{{secret:" + name + "}}";
}

// Request is an HTTP request for the network door.
export class Request {
  method: string = "GET";
  url: string = "";
  headers: Map<string, string> = new Map<string, string>();
  body: Uint8Array = new Uint8Array(0);
}

// Response is what the door returned.
export class Response {
  constructor(public status: i32, public body: Uint8Array) {}
}

// send sends req through Toolgate's network door. The door lets it out only to a destination the version's grants
// allow, fills in the granted secrets, and masks them in the response; every attempt is a line of the call's
// receipt, and a refused request ends the call (today with status trap).
export function send(req: Request): Response {
  const j = new Bytes();
  j.appendString('{"method":');
  j.appendJSONString(utf8(req.method));
  j.appendString(',"url":');
  j.appendJSONString(utf8(req.url));
  j.appendString(',"headers":{');
  const keys = req.headers.keys();
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) j.appendByte(0x2c);
    j.appendJSONString(utf8(keys[i]));
    j.appendByte(0x3a);
    j.appendJSONString(utf8(req.headers.get(keys[i])));
  }
  j.appendString("}}");
  const r = hostPut(j.bytes());
  const b: u64 = req.body.length > 0 ? hostPut(req.body) : 0;
  const resp = http_request(r, b);
  return new Response(http_status_code(), hostGet(resp));
}

// Bytes is a growable byte buffer.
export class Bytes {
  private buf: Uint8Array = new Uint8Array(64);
  length: i32 = 0;

  private grow(extra: i32): void {
    if (this.length + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  appendByte(c: u8): Bytes {
    this.grow(1);
    this.buf[this.length++] = c;
    return this;
  }

  append(b: Uint8Array): Bytes {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  appendString(s: string): Bytes {
    return this.append(utf8(s));
  }

  // appendJSONString appends s as a JSON string: quotes, backslashes and control characters escaped (\b \f \n
  // \r \t, else \u00XX), everything else, UTF-8 included, as is.
  appendJSONString(s: Uint8Array): Bytes {
    const hex = "0123456789abcdef";
    this.appendByte(0x22);
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c == 0x22) this.appendString('\\"');
      else if (c == 0x5c) this.appendString("\\\\");
      else if (c == 0x08) this.appendString("\\b");
      else if (c == 0x0c) this.appendString("\\f");
      else if (c == 0x0a) this.appendString("\\n");
      else if (c == 0x0d) this.appendString("\\r");
      else if (c == 0x09) this.appendString("\\t");
      else if (c < 0x20) this.appendString("\\u00" + hex.charAt(c >> 4) + hex.charAt(c & 15));
      else this.appendByte(c);
    }
    return this.appendByte(0x22);
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

// utf8Valid reports whether b is valid UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
export function utf8Valid(b: Uint8Array): bool {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let k = 0;
    let lo: u8 = 0x80;
    let hi: u8 = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) k = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      k = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else return false;
    if (n - i <= k) return false;
    if (b[i + 1] < lo || b[i + 1] > hi) return false;
    for (let j = 2; j <= k; j++) if ((b[i + j] & 0xc0) != 0x80) return false;
    i += k + 1;
  }
  return true;
}

// jsonGetString returns the decoded value (UTF-8) of string field key of the JSON object json, or null when json
// is not an object, key is absent, or its value is not a string. A repeated key counts by its last occurrence.
export function jsonGetString(json: Uint8Array, key: string): Uint8Array | null {
  const p = new JSONParser(json);
  const k = utf8(key);
  let found: Uint8Array | null = null;
  p.ws();
  if (!p.eat(0x7b)) return null;
  p.ws();
  if (p.peek() == 0x7d) {
    p.i++;
  } else {
    while (true) {
      p.ws();
      const name = p.str(true);
      if (p.bad) return null;
      p.ws();
      if (!p.eat(0x3a)) return null;
      p.ws();
      if (equal(name, k)) {
        if (p.peek() == 0x22) found = p.str(true);
        else {
          p.skip();
          found = null;
        }
      } else p.skip();
      if (p.bad) return null;
      p.ws();
      const c = p.next();
      if (c == 0x2c) continue;
      if (c == 0x7d) break;
      return null;
    }
  }
  p.ws();
  if (p.i != json.length) return null;
  return found;
}

function equal(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}

class JSONParser {
  i: i32 = 0;
  bad: bool = false;
  constructor(public s: Uint8Array) {}

  peek(): i32 {
    return this.i < this.s.length ? <i32>this.s[this.i] : -1;
  }
  next(): i32 {
    const c = this.peek();
    if (c < 0) this.bad = true;
    else this.i++;
    return c;
  }
  eat(c: i32): bool {
    if (this.next() == c) return true;
    this.bad = true;
    return false;
  }
  ws(): void {
    while (true) {
      const c = this.peek();
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return;
      this.i++;
    }
  }
  hex4(): i32 {
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = this.next();
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else {
        this.bad = true;
        return -1;
      }
      v = v * 16 + d;
    }
    return v;
  }
  str(decode: bool): Uint8Array {
    const out = new Bytes();
    if (!this.eat(0x22)) return out.bytes();
    while (true) {
      const c = this.next();
      if (c < 0x20) {
        this.bad = true;
        return out.bytes();
      }
      if (c == 0x22) return out.bytes();
      if (c != 0x5c) {
        if (decode) out.appendByte(<u8>c);
        continue;
      }
      let r: i32;
      const e = this.next();
      if (e == 0x22 || e == 0x5c || e == 0x2f) r = e;
      else if (e == 0x62) r = 8;
      else if (e == 0x66) r = 12;
      else if (e == 0x6e) r = 10;
      else if (e == 0x72) r = 13;
      else if (e == 0x74) r = 9;
      else if (e == 0x75) {
        r = this.hex4();
        if (this.bad) return out.bytes();
        if (r >= 0xd800 && r < 0xdc00) {
          const save = this.i;
          let lo = -1;
          if (this.peek() == 0x5c && this.i + 1 < this.s.length && this.s[this.i + 1] == 0x75) {
            this.i += 2;
            lo = this.hex4();
            this.bad = false;
          }
          if (lo >= 0xdc00 && lo < 0xe000) r = 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00);
          else {
            this.i = save;
            r = 0xfffd;
          }
        } else if (r >= 0xdc00 && r < 0xe000) r = 0xfffd;
      } else {
        this.bad = true;
        return out.bytes();
      }
      if (decode) out.append(utf8(String.fromCodePoint(r)));
    }
  }
  skip(): void {
    this.ws();
    const c = this.peek();
    if (c == 0x22) {
      this.str(false);
      return;
    }
    if (c == 0x7b || c == 0x5b) {
      const close = c == 0x7b ? 0x7d : 0x5d;
      this.i++;
      this.ws();
      if (this.peek() == close) {
        this.i++;
        return;
      }
      while (!this.bad) {
        if (c == 0x7b) {
          this.ws();
          this.str(false);
          this.ws();
          if (!this.eat(0x3a)) return;
        }
        this.skip();
        this.ws();
        const d = this.next();
        if (d == close) return;
        if (d != 0x2c) this.bad = true;
      }
      return;
    }
    const start = this.i;
    while (true) {
      const d = this.peek();
      if ((d >= 0x30 && d <= 0x39) || (d >= 0x61 && d <= 0x7a) || d == 0x2d || d == 0x2b || d == 0x2e || d == 0x45) this.i++;
      else break;
    }
    if (this.i == start) this.bad = true;
  }
}
