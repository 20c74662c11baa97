//! The language kits (`sdk/`) and the WIT contract (`wit/`) are compiled into the binary
//! (`cli::kit`); rebuild when a file in them is added, changed or removed.

fn main() {
    for dir in ["../wit", "../sdk/rust", "../sdk/frames", "../sdk/c", "../sdk/python", "../sdk/js", "../sdk/go"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
