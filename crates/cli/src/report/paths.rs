//! Paths shortened for a table: a step repeated along a linked list becomes one step with a
//! count, and a path still longer than a table cell should be keeps its root, its first steps
//! and its last ones. JSON and `--wide` keep every step.

pub use crate::escape::printable;

/// Steps that are the same reference taken again and again (`Entry.next`, 137 times) become
/// one step: `io.netty.channel.ChannelOutboundBuffer$Entry.next x137`. Array indices do not
/// count as a difference.
pub fn collapse(steps: &[String]) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for step in steps {
        let key = without_index(step);
        match out.last_mut() {
            Some((last, n)) if without_index(last) == key => *n += 1,
            _ => out.push((step.clone(), 1)),
        }
    }
    out.into_iter().map(|(step, n)| if n == 1 { step } else { format!("{} x{n}", without_index(&step)) }).collect()
}

/// `keep` of the steps, the first ones and the last ones, with a step between them saying how
/// many are left out.
pub fn elide(steps: Vec<String>, keep: usize) -> Vec<String> {
    let keep = keep.max(3);
    if steps.len() <= keep {
        return steps;
    }
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let left_out = steps.len() - head - tail;
    let mut out = steps[..head].to_vec();
    out.push(format!("... {left_out} steps ..."));
    out.extend_from_slice(&steps[steps.len() - tail..]);
    out
}

/// Class names without their packages, for a table cell: `io.netty.channel.ChannelOutboundBuffer$Entry.msg`
/// → `ChannelOutboundBuffer$Entry.msg`. A package is a run of lower-case identifiers each
/// followed by a dot, before an upper-case one; quoted text (thread names) is left alone.
pub fn simple_names(step: &str) -> String {
    let mut out = String::with_capacity(step.len());
    let mut quoted = false;
    let mut rest = step;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted
            && (c.is_ascii_lowercase() || c == '_')
            && !out.ends_with(|p: char| p.is_alphanumeric() || p == '$' || p == '_')
        {
            if let Some(package) = package_len(rest) {
                rest = &rest[package..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The length of a package prefix (`io.netty.`) at the start of `text`, when an upper-case
/// class name follows it.
fn package_len(text: &str) -> Option<usize> {
    let mut at = 0;
    loop {
        let part = text[at..].find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))?;
        if part == 0 || !text[at + part..].starts_with('.') {
            return None;
        }
        at += part + 1;
        if text[at..].starts_with(|c: char| c.is_ascii_uppercase()) {
            return Some(at);
        }
    }
}

/// `java.lang.Object[12]` → `java.lang.Object[*]`; other steps unchanged.
fn without_index(step: &str) -> String {
    match step.rfind('[') {
        Some(open) if step.ends_with(']') && step[open + 1..step.len() - 1].bytes().all(|b| b.is_ascii_digit()) => {
            format!("{}[*]", &step[..open])
        }
        _ => step.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn repeats_collapse_with_a_count() {
        let mut path = steps(&["thread \"main\"", "Outbound.flushedEntry"]);
        path.extend(std::iter::repeat_n("Outbound$Entry.next".to_string(), 137));
        path.extend(steps(&["Outbound$Entry.msg", "Object[3]", "Object[4]", "Buf@0x1"]));
        assert_eq!(
            collapse(&path),
            steps(&[
                "thread \"main\"",
                "Outbound.flushedEntry",
                "Outbound$Entry.next x137",
                "Outbound$Entry.msg",
                "Object[*] x2",
                "Buf@0x1"
            ])
        );
    }

    #[test]
    fn long_paths_keep_both_ends() {
        let path: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(elide(path.clone(), 20), path);
        assert_eq!(elide(path, 5), steps(&["0", "1", "2", "... 5 steps ...", "8", "9"]));
    }

    #[test]
    fn packages_leave_table_cells() {
        assert_eq!(simple_names("io.netty.channel.ChannelOutboundBuffer$Entry.msg"), "ChannelOutboundBuffer$Entry.msg");
        assert_eq!(
            simple_names("local in thread \"io.x.Y\" at com.example.Main.run(Main.java:12)"),
            "local in thread \"io.x.Y\" at Main.run(Main.java:12)"
        );
        assert_eq!(simple_names("static DirectBuffers.CACHE"), "static DirectBuffers.CACHE");
        assert_eq!(simple_names("java.lang.Object[*] x2"), "Object[*] x2");
        assert_eq!(simple_names("freed when a garbage collection runs"), "freed when a garbage collection runs");
    }
}
