//! The layering of `src/`: no file imports another that imports it back,
//! directly or through a circle, and the harness never names the reference
//! server (it treats every target alike).
//!
//! An import is any path a file names that leads into another file: a
//! `use` item, an inline path such as `crate::model::apply` or
//! `super::diff::Kind`, or a child module named in code (`handover::pass`
//! after `mod handover;`). A path resolves to the deepest module file it
//! reaches, so `crate::model::Op` is an import of `src/model/mod.rs` (which
//! re-exports it) and `crate::model::op::Op` one of `src/model/op.rs`. A
//! `mod` declaration alone is not an import. This is deliberately strict:
//! a child that imports through its parent's re-exports while the parent
//! uses the child counts as a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file: its module path (`["harness", "run"]`) and text.
struct File {
    module: Vec<String>,
    crate_root: &'static str,
    text: String,
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            collect(&p, files);
        } else if p.extension().is_some_and(|e| e == "rs") {
            files.push(p);
        }
    }
}

/// Text with comments, string and char literals blanked out, so that paths
/// in docs and messages do not count.
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
            continue;
        }
        if c == 'r' && (next == Some('"') || (next == Some('#') && !prev_ident(&b, i))) {
            // Raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) == Some(&'"') && !prev_ident(&b, i) {
                j += 1;
                'raw: while j < b.len() {
                    if b[j] == '"' {
                        let mut k = 0;
                        while k < hashes && b.get(j + 1 + k) == Some(&'#') {
                            k += 1;
                        }
                        if k == hashes {
                            j += 1 + hashes;
                            break 'raw;
                        }
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
                continue;
            }
        }
        if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                if b[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j + 1;
            continue;
        }
        if c == '\'' {
            // A char literal ('a', '\n', '\u{1F600}'), not a lifetime.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
                continue;
            }
            if b.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn prev_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Expands a `use` tree (`crate::a::{b, c::{d, e}}`) into full paths.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn go(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) {
        let s = s.trim();
        if let Some(open) = s.find('{') {
            let head: Vec<String> = s[..open]
                .split("::")
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect();
            let mut p = prefix.to_vec();
            p.extend(head);
            let inner = &s[open + 1..s.rfind('}').unwrap_or(s.len())];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        go(&p, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            go(&p, &inner[start..], out);
        } else {
            let s = s.split(" as ").next().unwrap_or(s);
            let mut p = prefix.to_vec();
            p.extend(
                s.split("::")
                    .map(str::trim)
                    .filter(|x| !x.is_empty() && *x != "*")
                    .map(String::from),
            );
            if !p.is_empty() {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    go(&[], tree, &mut out);
    out
}

/// Every path the code names that starts at `crate`, `super`, `self`, the
/// library's name, or one of the file's own child modules.
fn named_paths(code: &str, children: &BTreeSet<String>, lib_name: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // `use` items.
    let mut rest = code;
    while let Some(pos) = find_word(rest, "use") {
        let after = &rest[pos + 3..];
        let end = after.find(';').unwrap_or(after.len());
        out.extend(expand_use(&after[..end]));
        rest = &after[end..];
    }
    // Inline paths.
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !(is_ident(chars[i - 1]))) {
            let preceded_by_colons = i >= 2 && chars[i - 1] == ':' && chars[i - 2] == ':';
            let mut j = i;
            let mut segs = Vec::new();
            loop {
                let s = j;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                segs.push(chars[s..j].iter().collect::<String>());
                if j + 2 < chars.len()
                    && chars[j] == ':'
                    && chars[j + 1] == ':'
                    && is_ident(chars[j + 2])
                {
                    j += 2;
                } else {
                    break;
                }
            }
            let first = segs[0].as_str();
            if !preceded_by_colons
                && segs.len() > 1
                && (matches!(first, "crate" | "super" | "self")
                    || first == lib_name
                    || children.contains(first))
            {
                out.push(segs);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn find_word(s: &str, w: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = s[from..].find(w) {
        let at = from + p;
        let before = s[..at].chars().next_back();
        let after = s[at + w.len()..].chars().next();
        if before.is_none_or(|c| !is_ident(c)) && after.is_some_and(|c| c.is_whitespace()) {
            return Some(at);
        }
        from = at + w.len();
    }
    None
}

/// The child modules a file declares (`mod x;`, `pub mod x;`, `mod x {`).
fn declared_children(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(pos) = find_word(rest, "mod") {
        let after = rest[pos + 3..].trim_start();
        let name: String = after.chars().take_while(|c| is_ident(*c)).collect();
        let tail = after[name.len()..].trim_start();
        if !name.is_empty() && (tail.starts_with(';') || tail.starts_with('{')) {
            out.insert(name);
        }
        rest = &rest[pos + 3..];
    }
    out
}

#[test]
fn no_file_of_src_imports_another_that_imports_it_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    collect(&root, &mut paths);
    paths.sort();
    let mut files: BTreeMap<(&'static str, Vec<String>), PathBuf> = BTreeMap::new();
    let mut parsed = Vec::new();
    for p in &paths {
        let rel = p.strip_prefix(&root).unwrap();
        let parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let in_bin = parts[0] == "main" || parts[0] == "cli";
        let crate_root = if in_bin { "bin" } else { "lib" };
        let mut module = parts.clone();
        if module.last().is_some_and(|l| l == "mod") {
            module.pop();
        }
        if module == ["lib"] || module == ["main"] {
            module.clear();
        }
        let text = code_only(&std::fs::read_to_string(p).unwrap());
        files.insert((crate_root, module.clone()), rel.to_path_buf());
        parsed.push(File {
            module,
            crate_root,
            text,
        });
    }
    // Resolve a path (absolute, per crate) to the deepest module file.
    let resolve = |krate: &'static str, abs: &[String]| -> Option<PathBuf> {
        for n in (0..=abs.len()).rev() {
            if let Some(f) = files.get(&(krate, abs[..n].to_vec())) {
                return Some(f.clone());
            }
        }
        None
    };
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for f in &parsed {
        let me = files[&(f.crate_root, f.module.clone())].clone();
        // `super` is the module above this file's own.
        let parent = f.module[..f.module.len().saturating_sub(1)].to_vec();
        let mut found = Vec::new();
        scan(&f.text, &f.module, &parent, &mut found);
        for (krate_is_lib, abs) in found {
            let krate = if krate_is_lib { "lib" } else { f.crate_root };
            if let Some(target) = resolve(krate, &abs)
                && target != me
            {
                edges.entry(me.clone()).or_default().insert(target);
            }
        }
    }
    // Every circle (strongly connected component of more than one file).
    let nodes: Vec<PathBuf> = files.values().cloned().collect();
    let index: BTreeMap<&PathBuf, usize> = nodes.iter().enumerate().map(|(i, p)| (p, i)).collect();
    let adj: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            edges
                .get(n)
                .map(|s| s.iter().map(|t| index[t]).collect())
                .unwrap_or_default()
        })
        .collect();
    let circles = strongly_connected(&adj)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            let mut names: Vec<String> =
                c.iter().map(|i| nodes[*i].display().to_string()).collect();
            names.sort();
            names.join(" <-> ")
        })
        .collect::<Vec<_>>();
    assert!(
        circles.is_empty(),
        "files of src/ that import each other (directly or through a circle):\n  {}",
        circles.join("\n  ")
    );
    // The checker itself finds imports: the harness imports the model.
    assert!(
        edges[&PathBuf::from("harness/diff.rs")]
            .iter()
            .any(|t| t.starts_with("model")),
        "the import scan found nothing: {:?}",
        edges.get(&PathBuf::from("harness/diff.rs"))
    );
}

/// Finds the absolute module paths a piece of code names. `module` is the
/// module the code is in, `parent` what `super` means there. Inline
/// modules (`mod tests { … }`) are scanned as modules of their own.
fn scan(code: &str, module: &[String], parent: &[String], out: &mut Vec<(bool, Vec<String>)>) {
    // Cut out inline modules first.
    let mut outer = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(pos) = find_word(rest, "mod") {
        let after = rest[pos + 3..].trim_start();
        let name: String = after.chars().take_while(|c| is_ident(*c)).collect();
        let tail = after[name.len()..].trim_start();
        if name.is_empty() || !tail.starts_with('{') {
            outer.push_str(&rest[..pos + 3]);
            rest = &rest[pos + 3..];
            continue;
        }
        let open = rest.len() - tail.len();
        let mut depth = 0;
        let mut close = rest.len();
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        outer.push_str(&rest[..pos]);
        outer.push_str(&format!("mod {name};"));
        let mut inner_module = module.to_vec();
        inner_module.push(name);
        scan(
            &rest[open + 1..close.min(rest.len())],
            &inner_module,
            module,
            out,
        );
        rest = &rest[(close + 1).min(rest.len())..];
    }
    outer.push_str(rest);
    let children = declared_children(&outer);
    for path in named_paths(&outer, &children, "baton") {
        let abs: (bool, Vec<String>) = match path[0].as_str() {
            "crate" => (false, path[1..].to_vec()),
            "baton" => (true, path[1..].to_vec()),
            "self" => {
                let mut a = module.to_vec();
                a.extend(path[1..].iter().cloned());
                (false, a)
            }
            "super" => {
                let mut a = parent.to_vec();
                let mut k = 1;
                while path.get(k).is_some_and(|s| s == "super") {
                    a.pop();
                    k += 1;
                }
                a.extend(path[k..].iter().cloned());
                (false, a)
            }
            child if children.contains(child) => {
                let mut a = module.to_vec();
                a.extend(path.iter().cloned());
                (false, a)
            }
            _ => continue,
        };
        out.push(abs);
    }
}

/// Tarjan's algorithm, iterative enough for a few hundred files.
fn strongly_connected(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct T<'a> {
        adj: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in &t.adj[v] {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                _ => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            t.out.push(comp);
        }
    }
    let n = adj.len();
    let mut t = T {
        adj,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn the_harness_never_names_the_reference_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/harness");
    let mut paths = Vec::new();
    collect(&root, &mut paths);
    let mut offenders = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains("crate::server") || line.contains("baton::server") {
                offenders.push(format!("{}:{}: {}", p.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "src/harness must reach every target through the target seam:\n  {}",
        offenders.join("\n  ")
    );
}
