//! The `dumpscan` command: everything happens in `dumpscan-cli`.

fn main() {
    std::process::exit(dumpscan_cli::run());
}
