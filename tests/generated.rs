//! Binding sources generated from the engine's tables, checked in and compared here: the Java
//! exception classes and constants, and the error and constant block of the Python stubs. (The
//! C enum and defines are generated into rewrap.h by ffi/tests/header.rs; the Python module
//! creates its exception classes from the same table at import.) A new error kind or constant
//! is added in core only; `make generated` (REWRAP_BLESS=1) rewrites these files.

use std::fmt::Write;
use std::path::PathBuf;

use rewrap::constants::{Value, CONSTANTS};
use rewrap::ERROR_KINDS;

const NOTICE: &str = "Generated from the engine's tables (core/src/error.rs, core/src/constants.rs) by tests/generated.rs; do not edit. Regenerate: make generated";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes `fresh` when blessing, then fails if the checked-in file differs.
fn check(path: &str, fresh: &str) {
    let path = root().join(path);
    if std::env::var_os("REWRAP_BLESS").is_some() {
        std::fs::write(&path, fresh).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "{} is stale: run `make generated` and commit it",
        path.display()
    );
}

fn java_exceptions() -> String {
    let mut out = format!("// {NOTICE}\npackage io.rewrap;\n\n");
    out.push_str(concat!(
        "/**\n",
        " * Base of every rewrap failure. Unchecked: a record that does not open is an ordinary\n",
        " * outcome to handle where it matters, not something to declare everywhere. {@link #code()}\n",
        " * is the stable numeric code of the engine's error table, shared with the C ABI and the\n",
        " * Python package; each kind has its own subclass.\n",
        " */\n",
        "public class RewrapException extends RuntimeException {\n",
        "    private static final long serialVersionUID = 1L;\n",
        "    private final int code;\n",
        "\n",
        "    public RewrapException(String message) {\n",
        "        this(0, message);\n",
        "    }\n",
        "\n",
        "    protected RewrapException(int code, String message) {\n",
        "        super(message);\n",
        "        this.code = code;\n",
        "    }\n",
        "\n",
        "    /** The stable numeric code (0 for a failure outside the table). */\n",
        "    public int code() {\n",
        "        return code;\n",
        "    }\n",
    ));
    for row in ERROR_KINDS {
        write!(
            out,
            "\n    /** {} (code {}) */\n    public static final class {name} extends RewrapException {{\n        private static final long serialVersionUID = 1L;\n        public static final int CODE = {};\n        public {name}(String m) {{ super(CODE, m); }}\n    }}\n",
            row.summary,
            row.code,
            row.code,
            name = row.name
        )
        .unwrap();
    }
    out.push_str("}\n");
    out
}

fn java_constants() -> String {
    let mut out = format!(
        "// {NOTICE}\npackage io.rewrap;\n\n/** Header names, lengths and defaults shared by every rewrap binding. */\npublic final class Constants {{\n    private Constants() {{}}\n"
    );
    for c in CONSTANTS {
        let (ty, value) = match c.value {
            Value::Str(s) => ("String", format!("\"{s}\"")),
            Value::Int(n) if n <= i32::MAX as u64 => ("int", n.to_string()),
            Value::Int(n) => ("long", format!("{n}L")),
        };
        write!(
            out,
            "\n    /** {} */\n    public static final {ty} {} = {value};\n",
            c.summary, c.name
        )
        .unwrap();
    }
    out.push_str("}\n");
    out
}

const BEGIN: &str = "# BEGIN GENERATED (tests/generated.rs: make generated)\n";
const END: &str = "# END GENERATED\n";

fn python_stub_block() -> String {
    let mut out = String::from(BEGIN);
    for c in CONSTANTS {
        let ty = match c.value {
            Value::Str(_) => "str",
            Value::Int(_) => "int",
        };
        writeln!(out, "{}: {ty}", c.name).unwrap();
    }
    out.push_str("\nclass RewrapError(Exception):\n    code: int\n\n");
    for row in ERROR_KINDS {
        writeln!(
            out,
            "class {}Error(RewrapError):\n    \"\"\"{}\"\"\"",
            row.name, row.summary
        )
        .unwrap();
    }
    out.push_str(END);
    out
}

#[test]
fn java_exception_classes_are_generated_from_the_table() {
    check(
        "jvm/src/main/java/io/rewrap/RewrapException.java",
        &java_exceptions(),
    );
}

#[test]
fn java_constants_are_generated_from_the_table() {
    check(
        "jvm/src/main/java/io/rewrap/Constants.java",
        &java_constants(),
    );
}

#[test]
fn python_stubs_are_generated_from_the_table() {
    let path = "python/rewrap/_rewrap.pyi";
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let (Some(start), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        panic!("{path} lacks the generated block markers");
    };
    let fresh = format!(
        "{}{}{}",
        &text[..start],
        python_stub_block(),
        &text[end + END.len()..]
    );
    check(path, &fresh);
}
