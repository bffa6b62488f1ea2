//! The conformance tool in Rust as a WASI command (std, wasm32-wasi): input on stdin, output on stdout, the error
//! on stderr with exit code 1 (plugins/conformance/README.md). A WASI command has no config, log door or
//! network: config, log and http are unknown commands here. The JSON helpers come from sdk/rust/toolgate.rs.
use std::io::{Read, Write};
use std::process::exit;

mod toolgate;

fn fail(msg: &[u8]) -> ! {
    let _ = std::io::stderr().write_all(msg);
    exit(1)
}

fn main() {
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        fail(b"read stdin failed");
    }
    let (cmd, arg) = match input.iter().position(|&c| c == b' ' || c == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (&input[..], &input[input.len()..]),
    };
    let out: Vec<u8> = match cmd {
        b"echo" => arg.to_vec(),
        b"upper" => match std::str::from_utf8(arg) {
            Ok(s) => s
                .chars()
                .map(|c| match c {
                    'a'..='z' | '\u{e0}'..='\u{fe}' if c != '\u{f7}' => char::from_u32(c as u32 - 0x20).unwrap(),
                    c => c,
                })
                .collect::<String>()
                .into_bytes(),
            Err(_) => fail(b"upper: input is not valid UTF-8"),
        },
        b"json" => {
            let name = toolgate::json::get_str(arg, "name").unwrap_or_else(|| fail(b"json: want an object with a string \"name\""));
            let mut greeting = b"Hello, ".to_vec();
            greeting.extend_from_slice(&name);
            greeting.push(b'!');
            let mut out = b"{\"greeting\":".to_vec();
            toolgate::json::write_str(&mut out, &greeting);
            out.extend_from_slice(format!(",\"length\":{}}}", name.len()).as_bytes());
            out
        }
        b"error" if arg.is_empty() => fail(b"error"),
        b"error" => fail(arg),
        b"big" => {
            let s = std::str::from_utf8(arg).unwrap_or("");
            if s.is_empty() || s.len() > 9 || !s.bytes().all(|c| c.is_ascii_digit()) {
                fail(b"big: want a decimal size");
            }
            (0..s.parse::<usize>().unwrap()).map(|i| b'a' + (i % 26) as u8).collect()
        }
        b"trap" => std::process::abort(),
        _ => {
            let mut m = b"unknown command \"".to_vec();
            m.extend_from_slice(cmd);
            m.push(b'"');
            fail(&m)
        }
    };
    let _ = std::io::stdout().write_all(&out);
}
