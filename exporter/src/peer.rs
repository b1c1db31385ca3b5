//! Finds the command line of the exporter this process should check: the
//! one running from the same executable file. A container image's
//! `HEALTHCHECK` runs `homelab-exporter healthcheck` with no arguments,
//! while the container itself may have been started with another
//! `--web.listen-address` or a `--config.file`; reading the server's own
//! arguments keeps the check on the address the server really uses.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The most process directories looked at (a host's /proc when the
/// container shares the host's PID namespace).
const MAX_PROCESSES: usize = 100_000;

/// The arguments (after the program name, without a leading `serve`) of
/// another process running this same executable as the server, if one is
/// found in `proc`. Processes of other users (unreadable) and other
/// subcommands are passed over.
pub fn serving_args(proc: &Path) -> Option<Vec<String>> {
    let me = std::fs::metadata(proc.join("self/exe")).ok()?;
    let own = std::process::id().to_string();
    for entry in std::fs::read_dir(proc).ok()?.flatten().take(MAX_PROCESSES) {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && *n != own) else { continue };
        let dir = proc.join(pid);
        let Ok(exe) = std::fs::metadata(dir.join("exe")) else { continue };
        if exe.dev() != me.dev() || exe.ino() != me.ino() {
            continue;
        }
        let Ok(raw) = std::fs::read(dir.join("cmdline")) else { continue };
        if let Some(args) = server_args(&raw) {
            return Some(args);
        }
    }
    None
}

/// The server's arguments from a NUL-separated command line, or `None`
/// when it runs another subcommand.
pub fn server_args(cmdline: &[u8]) -> Option<Vec<String>> {
    let mut args: Vec<String> = cmdline.split(|b| *b == 0).skip(1).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    match args.first().map(String::as_str) {
        Some("serve") => {
            args.remove(0);
            Some(args)
        }
        Some(first) if !first.starts_with('-') => None,
        _ => Some(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_servers_arguments_and_passes_over_other_subcommands() {
        assert_eq!(server_args(b"/homelab-exporter\0--web.listen-address=:9100\0"), Some(vec!["--web.listen-address=:9100".to_owned()]));
        assert_eq!(server_args(b"/homelab-exporter\0serve\0--config.file=/c.yaml\0"), Some(vec!["--config.file=/c.yaml".to_owned()]));
        assert_eq!(server_args(b"/homelab-exporter\0"), Some(vec![]));
        assert_eq!(server_args(b"/homelab-exporter\0healthcheck\0"), None);
        assert_eq!(server_args(b"/homelab-exporter\0rules\0--inventory\0x\0"), None);
    }

    #[test]
    fn finds_nothing_in_a_proc_without_this_executable() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/proc/self", dir.path().join("self")).unwrap();
        assert_eq!(serving_args(dir.path()), None);
    }
}
