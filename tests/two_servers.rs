//! Two `nmail serve` processes on one MariaDB index and one data folder
//! (the set-up for more than one machine, with the data folder on shared
//! storage): each sees the other's deliveries and removals, the POP3 lock
//! holds across them, and their watchers agree.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, Pop3, Server, smtp_send};

const BOB: &str = "bob@example.com";
const PW: &str = "Correct-Horse-7";

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_servers_share_one_index_and_one_data_folder() {
    let a = Server::start_on(Backend::Mysql, &[]);
    let b = a.another();

    // SMTP into A, POP3 out of B.
    for i in 0..5 {
        let m = format!("Subject: via A {i}\r\n\r\nbody {i}\r\n");
        assert!(smtp_send(a.smtp, "x@example.org", &[BOB], m.as_bytes()).starts_with("250"));
    }
    let mut p = Pop3::login(b.pop3, BOB, PW);
    let uidl_b = p.uidl();
    assert_eq!(uidl_b.len(), 5);
    // The maildrop lock holds across servers.
    let mut q = Pop3::connect(a.pop3);
    q.cmd(&format!("USER {BOB}"));
    let r = q.cmd(&format!("PASS {PW}"));
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
    drop(q);
    // A deletion through B...
    assert!(p.cmd("DELE 1").starts_with("+OK"));
    assert!(p.quit().starts_with("+OK"));
    // ...is what A lists afterwards, with the same UIDLs.
    let mut p = Pop3::login_when_free(a.pop3, BOB, PW);
    let uidl_a = p.uidl();
    assert_eq!(
        uidl_a.iter().map(|x| &x.1).collect::<Vec<_>>(),
        uidl_b[1..].iter().map(|x| &x.1).collect::<Vec<_>>()
    );
    p.quit();

    // A file dropped by hand: both watchers see it; they write the same
    // row, and nothing is duplicated.
    let md = a.maildir(BOB);
    std::fs::write(
        md.join("tmp/1717290000.M1P1Q1.hand"),
        "Subject: by hand\r\n\r\nx\r\n",
    )
    .unwrap();
    std::fs::rename(
        md.join("tmp/1717290000.M1P1Q1.hand"),
        md.join("new/1717290000.M1P1Q1.hand"),
    )
    .unwrap();
    // Deliveries to both at once.
    let sender = |addr: std::net::SocketAddr, tag: &'static str| {
        std::thread::spawn(move || {
            (0..10).all(|i| {
                let text = format!("Subject: {tag}{i}\r\n\r\nx\r\n");
                smtp_send(addr, "x@example.org", &[BOB], text.as_bytes()).starts_with("250")
            })
        })
    };
    let (ta, tb) = (sender(a.smtp, "A"), sender(b.smtp, "B"));
    assert!(ta.join().unwrap() && tb.join().unwrap());
    wait_until("both servers list all 25 messages", || {
        let n_a = Pop3::login_when_free(a.pop3, BOB, PW).list().len();
        let n_b = Pop3::login_when_free(b.pop3, BOB, PW).list().len();
        n_a == 25 && n_b == 25
    });
    // And the UIDLs the two servers give agree message for message.
    let ua = Pop3::login_when_free(a.pop3, BOB, PW).uidl();
    let ub = Pop3::login_when_free(b.pop3, BOB, PW).uidl();
    assert_eq!(ua, ub);
    // The shared index agrees with the files.
    let check = a.resync(&["--check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    for s in [&a, &b] {
        assert!(!s.log().contains(" ERROR "), "{}", s.log());
    }
}
