//! `nmail-resync`: compares the index with the data folder's files and
//! mends the index. It never changes the content of a mail file or deletes
//! one (a second file with a key already taken gets a fresh name).

fn main() -> std::process::ExitCode {
    nmail::cli::resync_main()
}
