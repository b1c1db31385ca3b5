//! The module structure of exporter/src, read from the source: no import
//! cycle among its modules, and collectors that never see the command line.
//!
//! A module is one file (`nut/mod.rs` is `nut`, `nut/client.rs` is
//! `nut::client`). An edge A -> B is a path in A's code that names B:
//! `crate::b::...`, `super::...` (outside A's inline test module, the
//! parent; inside it, A itself) and `child::...` for A's own child modules.
//! Comments are skipped; `mod` declarations are not edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of exporter/src (the binary's main.rs is not one) and the
/// modules its code names. `HOMELAB_MODULES_SRC` points the check at
/// another tree's `exporter/src` (an older commit's, say).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = std::env::var_os("HOMELAB_MODULES_SRC").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), Into::into);
    let mut files = BTreeMap::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap().to_str().unwrap().trim_end_matches(".rs").to_owned();
            if path.extension().is_none_or(|e| e != "rs") || rel == "main" {
                continue;
            }
            let module = match rel.as_str() {
                "lib" => String::new(),
                _ => rel.trim_end_matches("/mod").replace('/', "::"),
            };
            files.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let parent = |m: &str| m.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_owned());
    // The longest module that `base::segments...` names.
    let resolve = |base: &str, rest: &str| -> Option<String> {
        let mut found = (!base.is_empty() && modules.contains(base)).then(|| base.to_owned());
        let mut current = base.to_owned();
        for segment in rest.split("::") {
            let segment: String = segment.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if segment.is_empty() {
                break;
            }
            current = if current.is_empty() { segment } else { format!("{current}::{segment}") };
            if !modules.contains(&current) {
                break;
            }
            found = Some(current.clone());
        }
        found
    };
    let mut graph = BTreeMap::new();
    for (module, text) in &files {
        let mut edges = BTreeSet::new();
        let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
        // Modules brought into scope by `use` (`use crate::{host, nut};`,
        // `use crate::config::{self, Loaded};`): their names head later paths.
        let mut aliases: BTreeMap<String, String> = BTreeMap::new();
        for statement in code.split(';') {
            let Some(body) = statement.trim_start().strip_prefix("use ").or_else(|| statement.trim_start().strip_prefix("pub use ")) else {
                continue;
            };
            let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let (prefix, items) = match body.split_once("::{") {
                Some((p, items)) => (p.to_owned(), items.trim_end_matches('}').split(',').map(str::to_owned).collect::<Vec<_>>()),
                None => match body.rsplit_once("::") {
                    Some((p, item)) => (p.to_owned(), vec![item.to_owned()]),
                    None => continue,
                },
            };
            let base = match prefix.split_once("::").map_or((prefix.as_str(), ""), |(h, r)| (h, r)) {
                ("crate", rest) => rest.to_owned(),
                ("super", rest) => [parent(module), rest.to_owned()].into_iter().filter(|x| !x.is_empty()).collect::<Vec<_>>().join("::"),
                ("self", rest) => [module.clone(), rest.to_owned()].into_iter().filter(|x| !x.is_empty()).collect::<Vec<_>>().join("::"),
                _ => continue,
            };
            for item in items {
                let name = item.split("::").next().unwrap_or("");
                let full = match name {
                    "self" => base.clone(),
                    _ if base.is_empty() => item.clone(),
                    _ => format!("{base}::{item}"),
                };
                let alias = if name == "self" { base.rsplit("::").next().unwrap_or("").to_owned() } else { name.to_owned() };
                if modules.contains(&full) && !item.contains("::") {
                    aliases.insert(alias, full);
                }
            }
        }
        let mut in_tests = false;
        for line in code.lines() {
            if line.starts_with("mod tests {") {
                in_tests = true;
            }
            let code = line;
            if code.trim_start().starts_with("mod ") || code.trim_start().starts_with("pub mod ") {
                continue;
            }
            if let Some(group) = code.split_once("crate::{").map(|(_, g)| g) {
                for item in group.split('}').next().unwrap_or("").split(',') {
                    if let Some(t) = resolve("", item.trim()) {
                        edges.insert(t);
                    }
                }
            }
            let bytes = code.as_bytes();
            for (i, _) in code.match_indices("::") {
                // The identifier before this `::`, when it starts a path.
                let start = code[..i].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |p| p + 1);
                if start > 0 && (bytes[start - 1] == b':' || bytes[start - 1] == b'$') {
                    continue;
                }
                let head = &code[start..i];
                let rest = &code[i + 2..];
                let target = match head {
                    "crate" => resolve("", rest),
                    "super" if in_tests => resolve(module, rest),
                    "super" => resolve(&parent(module), rest),
                    "self" => resolve(module, rest),
                    alias if aliases.contains_key(alias) => resolve(&aliases[alias], rest),
                    child if !child.is_empty() => {
                        let full = if module.is_empty() { child.to_owned() } else { format!("{module}::{child}") };
                        modules.contains(&full).then(|| resolve(&full, rest)).flatten()
                    }
                    _ => None,
                };
                if let Some(t) = target.filter(|t| t != module && !t.is_empty()) {
                    edges.insert(t);
                }
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let lw = s.low[w.as_str()];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w.as_str()) {
                let iw = s.index[w.as_str()];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on_stack: BTreeSet::new(), found: Vec::new() };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn no_import_cycle_among_the_exporters_modules() {
    let graph = module_graph();
    assert!(graph.len() > 50, "found only {} modules", graph.len());
    // The checker sees edges: the registry names the CLI and the collectors.
    assert!(graph["registry"].contains("cli") && graph["registry"].contains("host::loadavg"), "{:?}", graph["registry"]);
    let found = cycles(&graph);
    let edges_within = |component: &Vec<String>| -> Vec<String> {
        component
            .iter()
            .flat_map(|m| graph[m].iter().filter(|t| component.contains(t)).map(move |t| format!("{m} -> {t}")))
            .collect()
    };
    let shown: Vec<Vec<String>> = found.iter().map(edges_within).collect();
    assert!(found.is_empty(), "import cycles among exporter/src modules: {shown:#?}");
}

#[test]
fn the_checker_finds_a_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    graph.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    graph.insert("d".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycles(&graph), vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]);
}

#[test]
fn collectors_never_see_the_command_line() {
    for (module, edges) in module_graph() {
        let collector = ["host", "nut", "docker", "proxmox"].iter().any(|c| module == *c || module.starts_with(&format!("{c}::")));
        if collector || module == "collector" || module == "config_key" {
            for forbidden in ["cli", "registry", "config"] {
                assert!(!edges.contains(forbidden), "{module} names crate::{forbidden}");
            }
        }
    }
}

#[test]
fn the_engine_and_the_server_know_no_collector() {
    let graph = module_graph();
    for module in ["scrape", "server", "encode"] {
        for edge in &graph[module] {
            let collector = ["host", "nut", "docker", "proxmox"].iter().any(|c| edge == c || edge.starts_with(&format!("{c}::")));
            assert!(!collector && edge != "registry" && edge != "cli", "{module} names crate::{edge}");
        }
    }
}
