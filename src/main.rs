//! The `nmail` command: `init`, `serve`, `domain`, `user`, `bounce`.

fn main() -> std::process::ExitCode {
    nmail::cli::main()
}
