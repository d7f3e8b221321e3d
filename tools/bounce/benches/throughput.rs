//! Messages per second over a corpus, one core. Run by hand:
//! `cargo bench -p nmail-bounce --bench throughput [-- DIR]`
//! (default DIR: the crate's copy of the bounce corpus).

fn main() {
    println!("todo");
}
