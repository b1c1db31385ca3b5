//! The `--web.config.file` parser (exporter-toolkit's format) and the
//! small parsers the web layer runs on what clients send.
//!
//! - Config (first byte even): the rest is the file, parsed as if it were
//!   `web.yml` in an empty scratch directory (so relative certificate names
//!   find nothing; absolute ones are read with the size and file-type
//!   checks). An error must name the file; an accepted file's accessors
//!   must answer.
//! - Values (first byte odd): every line goes through the Go duration
//!   parser and, as an `Authorization` header value, the Basic credentials
//!   parser.

#![no_main]

use std::sync::{Arc, OnceLock};

use homelab_exporter::duration;
use homelab_exporter::webconfig::{parse_basic_auth, WebConfig};
use homelab_fuzz::{text, Tree};
use hyper::header::HeaderValue;
use libfuzzer_sys::fuzz_target;

fn tree() -> &'static Arc<Tree> {
    static TREE: OnceLock<Arc<Tree>> = OnceLock::new();
    TREE.get_or_init(|| Tree::new("webconfig"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let t = text(rest);
    if selector % 2 == 0 {
        let path = tree().path("web.yml");
        match WebConfig::parse(&path, &t) {
            Ok(config) => {
                let _ = config.tls();
                let _ = config.requires_client_cert();
                let _ = config.user_count();
                let _ = config.headers();
                let _ = config.rate_limit();
                let _ = config.http2();
            }
            Err(e) => {
                let message = e.to_string();
                assert!(message.contains("web.yml"), "error does not name the file: {message}");
            }
        }
    } else {
        for line in t.lines() {
            let _ = duration::parse(line);
            if let Ok(v) = HeaderValue::from_str(line) {
                let _ = parse_basic_auth(&v);
            }
        }
    }
});
