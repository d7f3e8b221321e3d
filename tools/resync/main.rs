//! `nmail-resync`: compares the index with the data folder's files and
//! mends the index. It never changes or deletes a mail file.

fn main() -> std::process::ExitCode {
    nmail::cli::resync_main()
}
