//! toolgate.rs — write a Toolgate tool (an Extism-ABI plugin) in Rust with nothing but rustc: one module, no
//! crates, no cargo. It uses only `core` and `alloc`, so it works in a `#![no_std]` crate as well as with std.
//!
//! ```ignore
//! mod toolgate;                       // this file, beside your main source file
//!
//! #[no_mangle]
//! pub extern "C" fn run() -> i32 {
//!     let input = toolgate::input();
//!     match core::str::from_utf8(&input) {
//!         Ok(s) => { toolgate::output_str(&s.to_uppercase()); 0 }
//!         Err(_) => toolgate::fail("want UTF-8 text"),
//!     }
//! }
//! ```
//!
//! Build (Debian's rustc 1.63 by its full path; see docs/plugins.md):
//!
//! ```text
//! /usr/bin/rustc --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib \
//!     -C opt-level=s -C panic=abort -C strip=symbols -o tool.wasm tool.rs
//! ```
//!
//! With std on wasm32-unknown-unknown the module imports nothing but the Extism functions (std there has no OS).
//! For `#![no_std]`, register [`BumpAllocator`] as the global allocator and [`trap`] from a panic handler; rustc
//! before 1.68 also needs `#![feature(default_alloc_error_handler)]` (with `RUSTC_BOOTSTRAP=1`), so with
//! Debian's 1.63 std is the plain path.
//!
//! Covered: input and output (bytes and strings), tool errors, config values, log lines, HTTP through
//! Toolgate's network door with `{{secret:NAME}}` placeholders, and the small JSON needs of a tool (read a
//! string field, write an escaped string). The ABI is docs/ABI.md.
#![allow(dead_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};

/// The raw Extism kernel functions of module "extism:host/env"; offsets are into the host's memory.
pub mod sys {
    #[link(wasm_import_module = "extism:host/env")]
    extern "C" {
        pub fn input_length() -> u64;
        pub fn input_load_u8(off: u64) -> u32;
        pub fn input_load_u64(off: u64) -> u64;
        pub fn alloc(len: u64) -> u64;
        pub fn free(off: u64);
        pub fn length(off: u64) -> u64;
        pub fn load_u8(off: u64) -> u32;
        pub fn load_u64(off: u64) -> u64;
        pub fn store_u8(off: u64, v: u32);
        pub fn store_u64(off: u64, v: u64);
        pub fn output_set(off: u64, len: u64);
        pub fn error_set(off: u64);
        pub fn config_get(key: u64) -> u64;
        pub fn http_request(req: u64, body: u64) -> u64;
        pub fn http_status_code() -> i32;
        pub fn log_debug(off: u64);
        pub fn log_info(off: u64);
        pub fn log_warn(off: u64);
        pub fn log_error(off: u64);
    }
}

/// Copies `b` into a fresh block of host memory and returns its offset.
pub fn host_put(b: &[u8]) -> u64 {
    unsafe {
        let off = sys::alloc(b.len() as u64);
        let mut chunks = b.chunks_exact(8);
        let mut i = 0u64;
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            sys::store_u64(off + i, u64::from_le_bytes(w));
            i += 8;
        }
        for &x in chunks.remainder() {
            sys::store_u8(off + i, x as u32);
            i += 1;
        }
        off
    }
}

/// Copies the host block at `off` into a Vec (empty for offset 0).
pub fn host_get(off: u64) -> Vec<u8> {
    if off == 0 {
        return Vec::new();
    }
    unsafe { load(sys::length(off) as usize, |i| sys::load_u64(off + i), |i| sys::load_u8(off + i)) }
}

fn load(n: usize, u64_at: impl Fn(u64) -> u64, u8_at: impl Fn(u64) -> u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    let mut i = 0;
    while i + 8 <= n {
        v.extend_from_slice(&u64_at(i as u64).to_le_bytes());
        i += 8;
    }
    while i < n {
        v.push(u8_at(i as u64) as u8);
        i += 1;
    }
    v
}

/// The call's input bytes.
pub fn input() -> Vec<u8> {
    unsafe { load(sys::input_length() as usize, |i| sys::input_load_u64(i), |i| sys::input_load_u8(i)) }
}

/// The call's input as a String, or None if it is not valid UTF-8.
pub fn input_string() -> Option<String> {
    String::from_utf8(input()).ok()
}

/// Sets the call's output (the last call wins).
pub fn output(b: &[u8]) {
    unsafe { sys::output_set(host_put(b), b.len() as u64) }
}

/// Sets the call's output to the UTF-8 bytes of `s`.
pub fn output_str(s: &str) {
    output(s.as_bytes())
}

/// Sets the tool error message and returns 1, so an entry point can end with `return toolgate::fail("…")`. The
/// call's status is then tool_error, and the caller sees the message.
pub fn fail(msg: &str) -> i32 {
    fail_bytes(msg.as_bytes())
}

/// [`fail`] with a message in bytes.
pub fn fail_bytes(msg: &[u8]) -> i32 {
    unsafe { sys::error_set(host_put(msg)) };
    1
}

/// The value of config `key` (the version document's "config"), or None. An empty value reads as None (the ABI
/// does not tell them apart).
pub fn config(key: &str) -> Option<String> {
    unsafe {
        let k = host_put(key.as_bytes());
        let v = sys::config_get(k);
        sys::free(k);
        if v == 0 || sys::length(v) == 0 {
            return None;
        }
        Some(String::from_utf8_lossy(&host_get(v)).into_owned())
    }
}

/// A log level. Toolgate keeps Info and above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Writes one log line. Toolgate keeps the first lines of a call and counts all of them in the receipt.
pub fn log(level: Level, msg: &str) {
    log_bytes(level, msg.as_bytes())
}

/// [`log`] with a message in bytes.
pub fn log_bytes(level: Level, msg: &[u8]) {
    let off = host_put(msg);
    unsafe {
        match level {
            Level::Debug => sys::log_debug(off),
            Level::Info => sys::log_info(off),
            Level::Warn => sys::log_warn(off),
            Level::Error => sys::log_error(off),
        }
    }
}

/// The placeholder for secret `name`, `{{secret:NAME}}`, to put in a request's header values or body: the
/// network door substitutes the value for a destination the grants allow; the tool never sees it.
pub fn secret(name: &str) -> String {
    let mut s = String::from("{{secret:");
    s.push_str(name);
    s.push_str("}}");
    s
}

/// An HTTP request for the network door.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// What the door returned.
pub struct Response {
    pub status: i32,
    pub body: Vec<u8>,
}

/// Sends `req` through Toolgate's network door. The door lets it out only to a destination the version's grants
/// allow, fills in the granted secrets, and masks them in the response; every attempt is a line of the call's
/// receipt, and a refused request ends the call (today with status trap).
pub fn send(req: &Request) -> Response {
    let mut j = Vec::new();
    j.extend_from_slice(b"{\"method\":");
    json::write_str(&mut j, req.method.as_bytes());
    j.extend_from_slice(b",\"url\":");
    json::write_str(&mut j, req.url.as_bytes());
    j.extend_from_slice(b",\"headers\":{");
    for (i, (k, v)) in req.headers.iter().enumerate() {
        if i > 0 {
            j.push(b',');
        }
        json::write_str(&mut j, k.as_bytes());
        j.push(b':');
        json::write_str(&mut j, v.as_bytes());
    }
    j.extend_from_slice(b"}}");
    unsafe {
        let r = host_put(&j);
        let b = if req.body.is_empty() { 0 } else { host_put(req.body) };
        let resp = sys::http_request(r, b);
        Response { status: sys::http_status_code(), body: host_get(resp) }
    }
}

/// Traps (the call's status becomes trap). Call it from a `#[panic_handler]` in a `#![no_std]` crate.
pub fn trap() -> ! {
    core::arch::wasm32::unreachable()
}

/// A bump allocator for `#![no_std]` tools: it takes fresh pages with memory.grow and never frees (each call
/// runs in a fresh sandbox, and the call's memory limit still applies). It grows the latest block in place.
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: toolgate::BumpAllocator = toolgate::BumpAllocator;
/// ```
pub struct BumpAllocator;

static mut HEAP_TOP: usize = 0;
static mut HEAP_END: usize = 0;
static mut HEAP_LAST: usize = 0;

unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let start = (HEAP_TOP + l.align() - 1) & !(l.align() - 1);
        let end = match start.checked_add(l.size()) {
            Some(e) => e,
            None => return core::ptr::null_mut(),
        };
        if HEAP_TOP == 0 || end > HEAP_END {
            let pages = (l.size() + l.align() + 65535) / 65536;
            let old = core::arch::wasm32::memory_grow(0, pages);
            if old == usize::MAX {
                return core::ptr::null_mut();
            }
            if HEAP_TOP == 0 || old * 65536 != HEAP_END {
                HEAP_TOP = old * 65536; // a fresh region (someone else grew memory in between)
            }
            HEAP_END = (old + pages) * 65536;
            return self.alloc(l);
        }
        HEAP_TOP = end;
        HEAP_LAST = start;
        start as *mut u8
    }

    unsafe fn dealloc(&self, _p: *mut u8, _l: Layout) {}

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if p as usize == HEAP_LAST && HEAP_LAST + new <= HEAP_END {
            HEAP_TOP = HEAP_LAST + new;
            return p;
        }
        let q = self.alloc(Layout::from_size_align_unchecked(new, l.align()));
        if !q.is_null() {
            core::ptr::copy_nonoverlapping(p, q, core::cmp::min(l.size(), new));
        }
        q
    }
}

/// Small JSON helpers: read a string field of an object, write an escaped string.
pub mod json {
    use super::Vec;

    /// Appends `s` to `out` as a JSON string: quotes, backslashes and control characters escaped (\b \f \n \r \t,
    /// else \u00XX), everything else, UTF-8 included, as is.
    pub fn write_str(out: &mut Vec<u8>, s: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push(b'"');
        for &c in s {
            match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                c if c < 0x20 => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]),
                c => out.push(c),
            }
        }
        out.push(b'"');
    }

    /// The decoded value of string field `key` of the JSON object `json`, or None when `json` is not an object,
    /// `key` is absent, or its value is not a string. A repeated key counts by its last occurrence.
    pub fn get_str(json: &[u8], key: &str) -> Option<Vec<u8>> {
        let mut p = Parser { s: json, i: 0 };
        p.ws();
        p.eat(b'{')?;
        p.ws();
        let mut found = None;
        if p.peek() == Some(b'}') {
            p.i += 1;
        } else {
            loop {
                p.ws();
                let k = p.string(true)?;
                p.ws();
                p.eat(b':')?;
                p.ws();
                if k == key.as_bytes() {
                    found = if p.peek() == Some(b'"') { Some(p.string(true)?) } else { p.skip()?; None };
                } else {
                    p.skip()?;
                }
                p.ws();
                match p.next()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        p.ws();
        if p.i != json.len() {
            return None;
        }
        found
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl<'a> Parser<'a> {
        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }
        fn next(&mut self) -> Option<u8> {
            let c = self.peek()?;
            self.i += 1;
            Some(c)
        }
        fn eat(&mut self, c: u8) -> Option<()> {
            if self.next()? == c { Some(()) } else { None }
        }
        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.i += 1;
            }
        }
        fn hex4(&mut self) -> Option<u32> {
            let mut v = 0;
            for _ in 0..4 {
                let d = (self.next()? as char).to_digit(16)?;
                v = v * 16 + d;
            }
            Some(v)
        }
        fn string(&mut self, decode: bool) -> Option<Vec<u8>> {
            self.eat(b'"')?;
            let mut out = Vec::new();
            loop {
                let c = self.next()?;
                match c {
                    b'"' => return Some(out),
                    c if c < 0x20 => return None,
                    b'\\' => {
                        let r = match self.next()? {
                            b'"' => '"' as u32,
                            b'\\' => '\\' as u32,
                            b'/' => '/' as u32,
                            b'b' => 8,
                            b'f' => 12,
                            b'n' => 10,
                            b'r' => 13,
                            b't' => 9,
                            b'u' => {
                                let mut r = self.hex4()?;
                                if (0xD800..0xDC00).contains(&r) {
                                    let save = self.i;
                                    let lo = if self.s[self.i..].starts_with(b"\\u") {
                                        self.i += 2;
                                        self.hex4()
                                    } else {
                                        None
                                    };
                                    match lo {
                                        Some(lo) if (0xDC00..0xE000).contains(&lo) => r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00),
                                        _ => {
                                            self.i = save;
                                            r = 0xFFFD
                                        }
                                    }
                                } else if (0xDC00..0xE000).contains(&r) {
                                    r = 0xFFFD;
                                }
                                r
                            }
                            _ => return None,
                        };
                        if decode {
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(char::from_u32(r)?.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                    c => {
                        if decode {
                            out.push(c)
                        }
                    }
                }
            }
        }
        fn skip(&mut self) -> Option<()> {
            self.ws();
            match self.peek()? {
                b'"' => {
                    self.string(false)?;
                }
                open @ (b'{' | b'[') => {
                    let close = if open == b'{' { b'}' } else { b']' };
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(close) {
                        self.i += 1;
                        return Some(());
                    }
                    loop {
                        if open == b'{' {
                            self.ws();
                            self.string(false)?;
                            self.ws();
                            self.eat(b':')?;
                        }
                        self.skip()?;
                        self.ws();
                        let c = self.next()?;
                        if c == close {
                            break;
                        }
                        if c != b',' {
                            return None;
                        }
                    }
                }
                _ => {
                    let start = self.i;
                    while matches!(self.peek(), Some(b'0'..=b'9' | b'a'..=b'z' | b'-' | b'+' | b'.' | b'E')) {
                        self.i += 1;
                    }
                    if self.i == start {
                        return None;
                    }
                }
            }
            Some(())
        }
    }
}
