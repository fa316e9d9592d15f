//! Where a policy error is: the line of a key path, for messages an
//! administrator can act on without reading code.

#[derive(Debug, Clone)]
pub(super) enum Seg {
    K(&'static str),
    I(usize),
}

pub(super) fn path_to_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::K(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::I(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

pub(super) fn line_of(src: &str, byte: usize) -> usize {
    src[..byte.min(src.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// The key written on the line holding `byte`, for parse errors, e.g. the
/// `x` of `x = "oops"`.
pub(super) fn key_on_line(src: &str, byte: usize) -> Option<String> {
    let start = src[..byte.min(src.len())]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let line = src[start..].lines().next()?;
    let (k, _) = line.split_once('=')?;
    let k = k.trim();
    (!k.is_empty()).then(|| k.to_string())
}

/// Finds the line of a key path in the source with toml_edit's spans.
pub(super) fn locate(src: &str, path: &[Seg]) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(src).ok()?;
    let mut item: &toml_edit::Item = doc.as_item();
    let mut span = None;
    for (pos, seg) in path.iter().enumerate() {
        item = match seg {
            Seg::K(k) => {
                let table = item.as_table_like()?;
                let (key, it) = table.get_key_value(k)?;
                span = key.span().or(span);
                it
            }
            Seg::I(i) => {
                if let Some(arr) = item.as_array_of_tables() {
                    let t = arr.get(*i)?;
                    span = t.span().or(span);
                    // Tables of an array have no item wrapper: continue from the table's entries.
                    return locate_in_table(src, t, &path[pos + 1..])
                        .or(span.map(|s| line_of(src, s.start)));
                }
                let arr = item.as_array()?;
                let v = arr.get(*i)?;
                span = v.span().or(span);
                return span.map(|s| line_of(src, s.start));
            }
        };
        if let Some(s) = item.span() {
            span = Some(s);
        }
    }
    span.map(|s| line_of(src, s.start))
}

fn locate_in_table(src: &str, t: &toml_edit::Table, rest: &[Seg]) -> Option<usize> {
    let Some(Seg::K(k)) = rest.first() else {
        return t.span().map(|s| line_of(src, s.start));
    };
    let (key, _) = t.get_key_value(k)?;
    key.span().map(|s| line_of(src, s.start))
}
