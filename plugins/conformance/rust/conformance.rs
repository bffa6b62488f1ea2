//! The conformance tool in Rust, on sdk/rust/toolgate.rs (Extism ABI; plugins/conformance/README.md).
//! Built twice by plugins/scripts/build-rust.sh: with std (the plain path on Debian's rustc 1.63), and with
//! `--cfg nostd` as a `#![no_std]` crate on the kit's BumpAllocator, which rustc 1.63 finishes only with the
//! then-unstable default alloc error handler (RUSTC_BOOTSTRAP=1); that build proves the kit needs no std.
#![cfg_attr(nostd, no_std)]
#![cfg_attr(nostd, feature(default_alloc_error_handler))]

mod toolgate;

extern crate alloc;
use alloc::format;
use alloc::vec::Vec;

#[cfg(nostd)]
#[global_allocator]
static ALLOC: toolgate::BumpAllocator = toolgate::BumpAllocator;

#[cfg(nostd)]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    toolgate::trap()
}

fn upper(arg: &[u8]) -> i32 {
    let s = match core::str::from_utf8(arg) {
        Ok(s) => s,
        Err(_) => return toolgate::fail("upper: input is not valid UTF-8"),
    };
    let out: alloc::string::String = s
        .chars()
        .map(|c| match c {
            'a'..='z' | '\u{e0}'..='\u{fe}' if c != '\u{f7}' => char::from_u32(c as u32 - 0x20).unwrap(),
            c => c,
        })
        .collect();
    toolgate::output_str(&out);
    0
}

fn json(arg: &[u8]) -> i32 {
    let name = match toolgate::json::get_str(arg, "name") {
        Some(n) => n,
        None => return toolgate::fail("json: want an object with a string \"name\""),
    };
    let mut greeting = b"Hello, ".to_vec();
    greeting.extend_from_slice(&name);
    greeting.push(b'!');
    let mut out = b"{\"greeting\":".to_vec();
    toolgate::json::write_str(&mut out, &greeting);
    out.extend_from_slice(format!(",\"length\":{}}}", name.len()).as_bytes());
    toolgate::output(&out);
    0
}

fn big(arg: &[u8]) -> i32 {
    let n = match core::str::from_utf8(arg).ok().filter(|s| !s.is_empty() && s.len() <= 9 && s.bytes().all(|c| c.is_ascii_digit())) {
        Some(s) => s.parse::<usize>().unwrap(),
        None => return toolgate::fail("big: want a decimal size"),
    };
    let out: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
    toolgate::output(&out);
    0
}

#[no_mangle]
pub extern "C" fn run() -> i32 {
    let input = toolgate::input();
    let (cmd, arg) = match input.iter().position(|&c| c == b' ' || c == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (&input[..], &input[input.len()..]),
    };
    match cmd {
        b"echo" => {
            toolgate::output(arg);
            0
        }
        b"upper" => upper(arg),
        b"json" => json(arg),
        b"error" if arg.is_empty() => toolgate::fail("error"),
        b"error" => toolgate::fail_bytes(arg),
        b"config" => {
            let key = alloc::string::String::from_utf8_lossy(arg);
            match toolgate::config(&key) {
                Some(v) => {
                    toolgate::output_str(&v);
                    0
                }
                None => toolgate::fail(&format!("config: {} is not set", key)),
            }
        }
        b"log" => {
            let mut n = 0;
            if !arg.is_empty() {
                for line in arg.split(|&c| c == b'\n') {
                    let level = [toolgate::Level::Info, toolgate::Level::Warn, toolgate::Level::Error][n % 3];
                    toolgate::log_bytes(level, line);
                    n += 1;
                }
            }
            toolgate::output_str(&format!("{}", n));
            0
        }
        b"big" => big(arg),
        b"http" => {
            let url = alloc::string::String::from_utf8_lossy(arg);
            let auth = format!("Bearer {}", toolgate::secret("TOKEN"));
            let resp = toolgate::send(&toolgate::Request { method: "GET", url: &url, headers: &[("Authorization", &auth)], body: &[] });
            let mut out = format!("{}\n", resp.status).into_bytes();
            out.extend_from_slice(&resp.body);
            toolgate::output(&out);
            0
        }
        b"trap" => toolgate::trap(),
        _ => {
            let mut m = b"unknown command \"".to_vec();
            m.extend_from_slice(cmd);
            m.push(b'"');
            toolgate::fail_bytes(&m)
        }
    }
}
