//! Class names as Java programmers write them.

/// Turns a JVM internal class name into its Java source name:
/// `java/lang/String` → `java.lang.String`, `[B` → `byte[]`,
/// `[[Ljava/lang/Object;` → `java.lang.Object[][]`. Names that are already in source form
/// pass through unchanged.
pub fn java_class_name(internal: &str) -> String {
    let dims = internal.bytes().take_while(|&b| b == b'[').count();
    let element = &internal[dims..];
    if dims == 0 {
        return hidden_class_suffix(internal.replace('/', "."));
    }
    let base = match element {
        "Z" => "boolean".to_string(),
        "C" => "char".to_string(),
        "F" => "float".to_string(),
        "D" => "double".to_string(),
        "B" => "byte".to_string(),
        "S" => "short".to_string(),
        "I" => "int".to_string(),
        "J" => "long".to_string(),
        other => hidden_class_suffix(
            other.strip_prefix('L').map(|s| s.strip_suffix(';').unwrap_or(s)).unwrap_or(other).replace('/', "."),
        ),
    };
    let mut name = base;
    for _ in 0..dims {
        name.push_str("[]");
    }
    name
}

/// Hidden classes (lambdas, JDK 15+) are written `Foo$$Lambda$4+0x0000...`; Java names them
/// `Foo$$Lambda$4/0x0000...` (`Class.getName()`, `jcmd GC.class_histogram`).
fn hidden_class_suffix(mut name: String) -> String {
    if let Some(at) = name.rfind("+0x") {
        if name[at + 3..].bytes().all(|b| b.is_ascii_hexdigit()) {
            name.replace_range(at..at + 1, "/");
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::java_class_name;

    #[test]
    fn internal_names_become_source_names() {
        assert_eq!(java_class_name("java/lang/String"), "java.lang.String");
        assert_eq!(java_class_name("java/util/HashMap$Node"), "java.util.HashMap$Node");
        assert_eq!(java_class_name("[B"), "byte[]");
        assert_eq!(java_class_name("[[I"), "int[][]");
        assert_eq!(java_class_name("[Ljava/lang/Object;"), "java.lang.Object[]");
        assert_eq!(java_class_name("[[Ljava/lang/Object;"), "java.lang.Object[][]");
        assert_eq!(java_class_name("java.lang.String"), "java.lang.String");
        assert_eq!(java_class_name("Foo$$Lambda$4+0x00007f8e15001c20"), "Foo$$Lambda$4/0x00007f8e15001c20");
        assert_eq!(java_class_name("[LFoo$$Lambda$4+0x800000002;"), "Foo$$Lambda$4/0x800000002[]");
        assert_eq!(java_class_name("a/b+c"), "a.b+c");
    }
}
