//! The index contract, run unchanged against every backend.
//!
//! Each case below is one async fn over a fresh [`Backend`]; the macro at the
//! end makes `sqlite::<case>` and `mysql::<case>` tests of it. The MySQL
//! ones need a MariaDB or MySQL server (see `common/mod.rs`) and fail, rather
//! than skip, without one: `cargo test -p nmail-sync --test conformance mysql::`.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{Backend, Kind};
use nmail_sync::index::{
    DomainRecord, FolderRecord, Index, IndexError, MessageRecord, SCHEMA_VERSION, UserRecord,
};
use nmail_sync::maildir::Subdir;
use nmail_sync::message::{Meta, ParseStatus};
use nmail_sync::store::{Body, StoreOptions, uidl_for};
use nmail_sync::{Address, DataDir, DomainName, Store, resync};

// ---- helpers ----------------------------------------------------------

fn domain(name: &str) -> DomainRecord {
    DomainRecord {
        name: name.into(),
        created: "2026-12-03T11:24:33Z".into(),
    }
}

fn user(address: &str) -> UserRecord {
    UserRecord {
        address: address.into(),
        domain: address
            .rsplit_once('@')
            .map(|(_, d)| d.into())
            .unwrap_or_default(),
        password: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        display_name: None,
        quota_bytes: None,
        disabled: false,
        created: "2026-12-03T11:25:01Z".into(),
    }
}

/// A message row with every field set to something that tells it apart.
fn msg(uniq: &str, internal_date: i64) -> MessageRecord {
    MessageRecord {
        uniq: uniq.into(),
        subdir: Subdir::New,
        file_name: uniq.into(),
        flags: String::new(),
        size: 1000 + uniq.len() as u64,
        wire_size: 1010 + uniq.len() as u64,
        mtime: internal_date + 5,
        internal_date,
        uidl: uidl_for(uniq),
        uid: 0,
        meta: Meta {
            from: Some("Alice <alice@example.org>".into()),
            to: Some("bob@example.com".into()),
            subject: Some(format!("about {uniq}")),
            date: Some(internal_date - 60),
            message_id: Some(format!("{internal_date}@example.org")),
            has_attachment: internal_date % 2 == 0,
            status: ParseStatus::Ok,
        },
    }
}

fn keys(rows: &[MessageRecord]) -> Vec<&str> {
    rows.iter().map(|r| r.uniq.as_str()).collect()
}

async fn inbox(ix: &Index, address: &str) -> i64 {
    let path = format!("domains/x/users/{address}/Maildir");
    ix.folder(address, "INBOX", &path).await.expect("folder")
}

// ---- domains and users ------------------------------------------------

async fn domains(b: &Backend) {
    let ix = b.open().await;
    assert!(ix.domains().await.unwrap().is_empty());
    ix.put_domain(domain("example.org")).await.unwrap();
    ix.put_domain(domain("example.com")).await.unwrap();
    ix.put_domain(domain("xn--bcher-kva.example"))
        .await
        .unwrap();
    let mut later = domain("example.org");
    later.created = "2027-01-01T00:00:00Z".into();
    ix.put_domain(later.clone()).await.unwrap();

    let got = ix.domains().await.unwrap();
    let want = vec![
        domain("example.com"),
        later,
        domain("xn--bcher-kva.example"),
    ];
    assert_eq!(got, want, "sorted by name, updated in place");
    assert!(ix.has_domain("example.com").await.unwrap());
    assert!(!ix.has_domain("example.net").await.unwrap());
    assert!(
        !ix.has_domain("EXAMPLE.COM").await.unwrap(),
        "names are exact"
    );

    ix.delete_domain("example.com").await.unwrap();
    ix.delete_domain("never.example").await.unwrap();
    assert!(!ix.has_domain("example.com").await.unwrap());
    assert_eq!(ix.domains().await.unwrap().len(), 2);
}

async fn users(b: &Backend) {
    let ix = b.open().await;
    assert_eq!(ix.user("bob@example.com").await.unwrap(), None);
    let mut bob = user("bob@example.com");
    bob.display_name = Some("Bob 김".into());
    bob.quota_bytes = Some(1 << 40);
    ix.put_user(bob.clone()).await.unwrap();
    ix.put_user(user("alice@example.com")).await.unwrap();
    ix.put_user(user("zed@example.org")).await.unwrap();
    assert_eq!(ix.user("bob@example.com").await.unwrap(), Some(bob.clone()));

    bob.password = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3".into();
    bob.display_name = None;
    bob.quota_bytes = None;
    bob.disabled = true;
    ix.put_user(bob.clone()).await.unwrap();
    assert_eq!(ix.user("bob@example.com").await.unwrap(), Some(bob.clone()));

    let all: Vec<String> = ix
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.address)
        .collect();
    assert_eq!(
        all,
        ["alice@example.com", "bob@example.com", "zed@example.org"]
    );

    let f = inbox(&ix, "bob@example.com").await;
    ix.put_messages(f, vec![msg("1.a", 1)]).await.unwrap();
    ix.delete_user("bob@example.com").await.unwrap();
    assert_eq!(ix.user("bob@example.com").await.unwrap(), None);
    assert_eq!(
        ix.folder_record(f).await.unwrap(),
        None,
        "folders go with the user"
    );
    assert!(
        ix.messages(f).await.unwrap().is_empty(),
        "and their messages"
    );
    assert_eq!(ix.users().await.unwrap().len(), 2);
}

// ---- folders ----------------------------------------------------------

async fn folders(b: &Backend) {
    let ix = b.open().await;
    let a = ix
        .folder("bob@example.com", "INBOX", "d/bob/Maildir")
        .await
        .unwrap();
    let s = ix
        .folder("bob@example.com", "Sent", "d/bob/Maildir/.Sent")
        .await
        .unwrap();
    let c = ix
        .folder("carol@example.com", "INBOX", "d/carol/Maildir")
        .await
        .unwrap();
    assert_eq!(
        ix.folder("bob@example.com", "INBOX", "d/bob/Maildir")
            .await
            .unwrap(),
        a
    );
    assert!(a != s && a != c && s != c);

    let rec = ix.folder_record(s).await.unwrap().expect("row");
    assert_eq!(
        rec,
        FolderRecord {
            id: s,
            address: "bob@example.com".into(),
            name: "Sent".into(),
            path: "d/bob/Maildir/.Sent".into(),
            uidvalidity: 0,
            uidnext: 1,
        },
        "a new folder has no UIDVALIDITY yet and UID 1 next"
    );
    let paths: Vec<String> = ix
        .folders()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        paths,
        ["d/bob/Maildir", "d/bob/Maildir/.Sent", "d/carol/Maildir"]
    );
    assert_eq!(ix.folder_record(i64::MAX).await.unwrap(), None);

    // A folder's messages go with it.
    ix.put_messages(s, vec![msg("1.a", 1), msg("2.b", 2)])
        .await
        .unwrap();
    ix.put_messages(a, vec![msg("3.c", 3)]).await.unwrap();
    ix.delete_folder(s).await.unwrap();
    assert_eq!(ix.folder_record(s).await.unwrap(), None);
    assert!(ix.messages(s).await.unwrap().is_empty());
    assert_eq!(keys(&ix.messages(a).await.unwrap()), ["3.c"]);
    let again = ix
        .folder("bob@example.com", "Sent", "d/bob/Maildir/.Sent")
        .await
        .unwrap();
    assert!(
        ix.messages(again).await.unwrap().is_empty(),
        "no stale rows"
    );
}

async fn folder_names_are_exact(b: &Backend) {
    let ix = b.open().await;
    let names = ["INBOX", "inbox", "Sent Items", "Sent Items ", "보낸 편지함"];
    let mut ids = BTreeSet::new();
    for n in names {
        let id = ix
            .folder("bob@example.com", n, &format!("m/.{n}"))
            .await
            .unwrap();
        ids.insert(id);
        assert_eq!(ix.folder_record(id).await.unwrap().unwrap().name, n);
    }
    assert_eq!(ids.len(), names.len(), "every name is its own folder");
    for n in names {
        let id = ix
            .folder("bob@example.com", n, &format!("m/.{n}"))
            .await
            .unwrap();
        assert!(ids.contains(&id));
    }
}

// ---- messages ---------------------------------------------------------

async fn messages_round_trip(b: &Backend) {
    let ix = b.open().await;
    let f = inbox(&ix, "bob@example.com").await;
    let other = ix
        .folder("bob@example.com", "Sent", "x/.Sent")
        .await
        .unwrap();
    assert!(ix.messages(f).await.unwrap().is_empty());

    let mut bare = msg("4.d", 20);
    bare.meta = Meta::unreadable();
    bare.subdir = Subdir::Cur;
    bare.file_name = "4.d:2,".into();
    let mut big = msg("5.e", 30);
    big.size = u64::from(u32::MAX) * 4;
    big.wire_size = big.size + 7;
    big.mtime = -1;
    big.meta.date = Some(-86_400);
    big.meta.status = ParseStatus::Unparsable;
    let rows = vec![
        msg("3.c", 20),
        msg("1.a", 10),
        bare.clone(),
        big.clone(),
        msg("2.b", 10),
    ];
    ix.put_messages(f, rows).await.unwrap();
    ix.put_messages(other, vec![msg("9.z", 1)]).await.unwrap();

    let got = ix.messages(f).await.unwrap();
    assert_eq!(
        keys(&got),
        ["1.a", "2.b", "3.c", "4.d", "5.e"],
        "arrival, then key"
    );
    assert_eq!(got[0], msg("1.a", 10));
    assert_eq!(got[3], bare);
    assert_eq!(got[4], big);

    // A flag change renames the file; the row is replaced, nothing else.
    let mut seen = msg("1.a", 10);
    seen.subdir = Subdir::Cur;
    seen.file_name = "1.a:2,FS".into();
    seen.flags = "FS".into();
    ix.put_messages(f, vec![seen.clone()]).await.unwrap();
    let got = ix.messages(f).await.unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(got[0], seen);

    ix.delete_messages(f, vec!["2.b".into(), "4.d".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(keys(&ix.messages(f).await.unwrap()), ["1.a", "3.c", "5.e"]);
    assert_eq!(
        keys(&ix.messages(other).await.unwrap()),
        ["9.z"],
        "other folder untouched"
    );
    ix.put_messages(f, Vec::new()).await.unwrap();
    ix.delete_messages(f, Vec::new()).await.unwrap();
}

async fn one_message_by_key(b: &Backend) {
    let ix = b.open().await;
    let f = inbox(&ix, "bob@example.com").await;
    let g = inbox(&ix, "carol@example.com").await;
    ix.put_messages(f, vec![msg("A", 10), msg("a", 11), msg("보고서 사본", 12)])
        .await
        .unwrap();
    ix.put_messages(g, vec![msg("A", 20)]).await.unwrap();
    assert_eq!(ix.message(f, "A").await.unwrap().unwrap().internal_date, 10);
    assert_eq!(ix.message(f, "a").await.unwrap().unwrap().internal_date, 11);
    assert_eq!(ix.message(g, "A").await.unwrap().unwrap().internal_date, 20);
    assert_eq!(
        ix.message(f, "보고서 사본").await.unwrap().unwrap(),
        msg("보고서 사본", 12)
    );
    assert!(ix.message(f, "A ").await.unwrap().is_none());
    assert!(ix.message(f, "missing").await.unwrap().is_none());
}

async fn keys_are_exact_bytes(b: &Backend) {
    let ix = b.open().await;
    let f = inbox(&ix, "bob@example.com").await;
    let long = "k".repeat(251) + "한"; // 254 bytes
    let keys_in = [
        "A",
        "a",
        "key",
        "key ",
        " key",
        "1717290000.M15P100Q15.보고서 사본",
        "1717290000.M15P100Q15.보고서 사본 (2)",
        "emoji 📬 key",
        long.as_str(),
    ];
    let rows: Vec<MessageRecord> = keys_in
        .iter()
        .map(|k| {
            let mut m = msg(k, 100);
            m.subdir = Subdir::Cur;
            m.file_name = if k.len() < 250 {
                format!("{k}:2,S")
            } else {
                k.to_string()
            };
            m.flags = "S".into();
            m
        })
        .collect();
    ix.put_messages(f, rows.clone()).await.unwrap();
    let got = ix.messages(f).await.unwrap();
    assert_eq!(
        got.len(),
        keys_in.len(),
        "no two keys collapse into one row"
    );
    let mut want = rows.clone();
    want.sort_by(|x, y| x.uniq.as_bytes().cmp(y.uniq.as_bytes()));
    assert_eq!(got, want, "byte order, every field intact");

    ix.delete_messages(f, vec!["a".into(), "key ".into()])
        .await
        .unwrap();
    let left: BTreeSet<String> = ix
        .messages(f)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.uniq)
        .collect();
    assert!(left.contains("A") && left.contains("key") && left.contains(" key"));
    assert!(!left.contains("a") && !left.contains("key "));
    assert_eq!(left.len(), keys_in.len() - 2);
}

async fn long_and_korean_text(b: &Backend) {
    let ix = b.open().await;
    let f = inbox(&ix, "bob@example.com").await;
    let mut ascii = msg("1.long", 1);
    ascii.meta.subject = Some("S".repeat(998));
    let mut korean = msg("2.korean", 2);
    korean.meta.subject = Some("가".repeat(998));
    korean.meta.from = Some("김철수 <chulsoo@example.kr>".into());
    korean.meta.to = Some("이영희 <younghee@example.kr>, 박민준 <minjun@example.kr>".into());
    let mut mixed = msg("3.mixed", 3);
    mixed.meta.subject = Some("회의 자료 보내드립니다 📎 — Résumé «ok» \t tab".into());
    mixed.meta.message_id = Some("고유.번호@example.kr".into());
    let rows = vec![ascii, korean, mixed];
    ix.put_messages(f, rows.clone()).await.unwrap();
    assert_eq!(ix.messages(f).await.unwrap(), rows);
}

async fn large_batch(b: &Backend) {
    let ix = b.open().await;
    let f = inbox(&ix, "bob@example.com").await;
    // Not a multiple of any chunk size, and more than one put's worth.
    let n = 4321;
    let rows: Vec<MessageRecord> = (0..n)
        .map(|i| msg(&format!("{i:06}.M{i}P1.host"), 1_700_000_000 + i))
        .collect();
    ix.put_messages(f, rows.clone()).await.unwrap();
    let got = ix.messages(f).await.unwrap();
    assert_eq!(got, rows);

    let uids: Vec<(String, u32)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.uniq.clone(), i as u32 + 1))
        .collect();
    ix.set_uids(f, 1_764_761_234, n as u32 + 1, uids)
        .await
        .unwrap();
    let mut again = rows.clone();
    for r in &mut again {
        r.flags = "S".into();
    }
    ix.put_messages(f, again).await.unwrap();
    let got = ix.messages(f).await.unwrap();
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, r)| r.uid == i as u32 + 1 && r.flags == "S")
    );

    let gone: Vec<String> = rows.iter().step_by(3).map(|r| r.uniq.clone()).collect();
    ix.delete_messages(f, gone.clone()).await.unwrap();
    let got = ix.messages(f).await.unwrap();
    assert_eq!(got.len(), n as usize - gone.len());
    assert_eq!(
        ix.usage("bob@example.com").await.unwrap(),
        got.iter().map(|m| m.size).sum::<u64>()
    );
}

// ---- UIDs -------------------------------------------------------------

/// Within one second, arrival order is UID order (maildir names such as
/// `T.M392162P1` and `T.M55955P1` do not sort by time as text); messages
/// still without a UID come after those with one.
async fn same_second_in_uid_order(b: &Backend) {
    let ix = b.open().await;
    let f = inbox(&ix, "bob@example.com").await;
    let names = [
        "100.M55955P1",
        "100.M392162P2",
        "100.M1P3",
        "100.M0P4",
        "99.M9P0",
    ];
    ix.put_messages(
        f,
        names
            .iter()
            .map(|n| msg(n, if n.starts_with("99.") { 99 } else { 100 }))
            .collect(),
    )
    .await
    .unwrap();
    ix.set_uids(
        f,
        5,
        10,
        vec![
            ("100.M55955P1".into(), 4),
            ("100.M392162P2".into(), 5),
            ("100.M1P3".into(), 6),
        ],
    )
    .await
    .unwrap();
    let got = ix.messages(f).await.unwrap();
    assert_eq!(
        keys(&got),
        [
            "99.M9P0",
            "100.M55955P1",
            "100.M392162P2",
            "100.M1P3",
            "100.M0P4"
        ],
        "date, then UID, then unassigned by key"
    );
}

async fn uid_kept_on_zero_upsert(b: &Backend) {
    let ix = b.open().await;
    let f = inbox(&ix, "bob@example.com").await;
    ix.put_messages(f, vec![msg("1.a", 1), msg("2.b", 2)])
        .await
        .unwrap();
    ix.set_uids(f, 77, 10, vec![("1.a".into(), 7), ("2.b".into(), 8)])
        .await
        .unwrap();

    // A rename comes in with UID 0: the index keeps 7.
    let mut renamed = msg("1.a", 1);
    renamed.subdir = Subdir::Cur;
    renamed.file_name = "1.a:2,S".into();
    renamed.flags = "S".into();
    // A row that brings its own UID replaces the old one.
    let mut explicit = msg("2.b", 2);
    explicit.uid = 9;
    ix.put_messages(f, vec![renamed.clone(), explicit])
        .await
        .unwrap();
    let got = ix.messages(f).await.unwrap();
    assert_eq!(got[0].uid, 7);
    assert_eq!(got[0].file_name, "1.a:2,S");
    assert_eq!(got[1].uid, 9);

    // A key the index lacks gets 0 until the list gives it one.
    ix.put_messages(f, vec![msg("3.c", 3)]).await.unwrap();
    assert_eq!(ix.messages(f).await.unwrap()[2].uid, 0);
}

async fn set_uids(b: &Backend) {
    let ix = b.open().await;
    let f = inbox(&ix, "bob@example.com").await;
    let g = ix
        .folder("bob@example.com", "Sent", "x/.Sent")
        .await
        .unwrap();
    ix.put_messages(f, vec![msg("1.a", 1), msg("2.b", 2)])
        .await
        .unwrap();
    ix.put_messages(g, vec![msg("1.a", 1)]).await.unwrap();
    ix.set_uids(
        f,
        u32::MAX,
        u32::MAX,
        vec![("1.a".into(), u32::MAX - 1), ("zz".into(), 5)],
    )
    .await
    .unwrap();
    let rec = ix.folder_record(f).await.unwrap().unwrap();
    assert_eq!((rec.uidvalidity, rec.uidnext), (u32::MAX, u32::MAX));
    let got = ix.messages(f).await.unwrap();
    assert_eq!((got[0].uid, got[1].uid), (u32::MAX - 1, 0));
    assert_eq!(
        ix.messages(g).await.unwrap()[0].uid,
        0,
        "same key, other folder"
    );
    assert_eq!(
        ix.messages(f).await.unwrap().len(),
        2,
        "unknown keys add no rows"
    );
    let rec = ix.folder_record(g).await.unwrap().unwrap();
    assert_eq!((rec.uidvalidity, rec.uidnext), (0, 1));
    ix.set_uids(g, 5, 6, Vec::new()).await.unwrap();
    let rec = ix.folder_record(g).await.unwrap().unwrap();
    assert_eq!((rec.uidvalidity, rec.uidnext), (5, 6));
}

// ---- usage and cascades -----------------------------------------------

async fn usage_sums_folders(b: &Backend) {
    let ix = b.open().await;
    assert_eq!(ix.usage("bob@example.com").await.unwrap(), 0);
    let f = inbox(&ix, "bob@example.com").await;
    let g = ix
        .folder("bob@example.com", "Sent", "x/.Sent")
        .await
        .unwrap();
    let h = inbox(&ix, "carol@example.com").await;
    let sized = |k: &str, size: u64| {
        let mut m = msg(k, 1);
        m.size = size;
        m
    };
    ix.put_messages(f, vec![sized("1", 100), sized("2", 250)])
        .await
        .unwrap();
    ix.put_messages(g, vec![sized("1", 1_000_000_000_000)])
        .await
        .unwrap();
    ix.put_messages(h, vec![sized("1", 7)]).await.unwrap();
    assert_eq!(
        ix.usage("bob@example.com").await.unwrap(),
        1_000_000_000_350
    );
    assert_eq!(ix.usage("carol@example.com").await.unwrap(), 7);
    ix.delete_folder(g).await.unwrap();
    assert_eq!(ix.usage("bob@example.com").await.unwrap(), 350);
    assert_eq!(ix.usage("nobody@example.com").await.unwrap(), 0);
}

async fn delete_domain_cascades(b: &Backend) {
    let ix = b.open().await;
    ix.put_domain(domain("a.example")).await.unwrap();
    ix.put_domain(domain("b.example")).await.unwrap();
    for u in ["bob@a.example", "carol@a.example", "dave@b.example"] {
        ix.put_user(user(u)).await.unwrap();
    }
    let bob = inbox(&ix, "bob@a.example").await;
    let bob_sent = ix
        .folder("bob@a.example", "Sent", "a/bob/.Sent")
        .await
        .unwrap();
    let carol = inbox(&ix, "carol@a.example").await;
    let dave = inbox(&ix, "dave@b.example").await;
    for f in [bob, bob_sent, carol, dave] {
        ix.put_messages(f, vec![msg("1.a", 1), msg("2.b", 2)])
            .await
            .unwrap();
    }
    ix.try_lock("pop3:bob@a.example", "h/1/1", 60)
        .await
        .unwrap();

    ix.delete_domain("a.example").await.unwrap();
    assert_eq!(ix.domains().await.unwrap(), vec![domain("b.example")]);
    let left: Vec<String> = ix
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.address)
        .collect();
    assert_eq!(left, ["dave@b.example"]);
    let folders: Vec<i64> = ix
        .folders()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(folders, [dave]);
    for f in [bob, bob_sent, carol] {
        assert!(ix.messages(f).await.unwrap().is_empty(), "messages go too");
        assert_eq!(ix.folder_record(f).await.unwrap(), None);
    }
    assert_eq!(ix.usage("bob@a.example").await.unwrap(), 0);
    assert_eq!(
        ix.messages(dave).await.unwrap().len(),
        2,
        "other domain untouched"
    );
    assert_eq!(
        ix.locks().await.unwrap().len(),
        1,
        "locks are not account data"
    );
}

// ---- locks ------------------------------------------------------------

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn lock_contention_two_servers(b: &Backend) {
    // Two instances opened separately: what two nmail processes have.
    let one = b.open().await;
    let two = b.open().await;
    let name = "pop3:bob@example.com";
    assert!(one.try_lock(name, "mx1/100/1", 300).await.unwrap());
    assert!(
        !two.try_lock(name, "mx2/200/1", 300).await.unwrap(),
        "held by mx1"
    );
    assert!(
        one.try_lock(name, "mx1/100/1", 300).await.unwrap(),
        "renewal by the holder"
    );
    assert!(
        !one.try_lock(name, "mx1/100/2", 300).await.unwrap(),
        "another session, same host"
    );
    assert!(
        two.try_lock("pop3:carol@example.com", "mx2/200/1", 300)
            .await
            .unwrap()
    );

    let locks = two.locks().await.unwrap();
    assert_eq!(locks.len(), 2);
    assert_eq!(
        (locks[0].0.as_str(), locks[0].1.as_str()),
        (name, "mx1/100/1")
    );
    assert_eq!(locks[1].0, "pop3:carol@example.com");
    let t = now();
    assert!(
        (t + 290..=t + 310).contains(&locks[0].2),
        "expiry {} near now + 300",
        locks[0].2
    );

    two.unlock(name, "mx2/200/1").await.unwrap();
    assert!(
        !two.try_lock(name, "mx2/200/1", 300).await.unwrap(),
        "only the holder unlocks"
    );
    one.unlock(name, "mx1/100/1").await.unwrap();
    assert!(two.try_lock(name, "mx2/200/1", 300).await.unwrap());
    assert!(!one.try_lock(name, "mx1/100/1", 300).await.unwrap());
    assert_eq!(one.locks().await.unwrap()[0].1, "mx2/200/1");
}

async fn lock_race(b: &Backend) {
    let servers = [b.open().await, b.open().await];
    for round in 0..5 {
        let name = Arc::new(format!("pop3:user{round}@example.com"));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..16 {
            let ix = servers[i % 2].clone();
            let name = name.clone();
            tasks.spawn(async move { ix.try_lock(&name, &format!("mx{}/1/{i}", i % 2), 60).await });
        }
        let mut won = 0;
        while let Some(r) = tasks.join_next().await {
            won += r.expect("task").expect("try_lock") as usize;
        }
        assert_eq!(
            won, 1,
            "round {round}: exactly one of 16 concurrent sessions wins"
        );
    }
}

async fn lock_expiry_and_renewal(b: &Backend) {
    let one = b.open().await;
    let two = b.open().await;
    let name = "pop3:bob@example.com";
    assert!(one.try_lock(name, "mx1/1/1", 100).await.unwrap());
    let first = one.locks().await.unwrap()[0].2;
    assert!(one.try_lock(name, "mx1/1/1", 1000).await.unwrap());
    let renewed = one.locks().await.unwrap()[0].2;
    assert!(
        renewed >= first + 900,
        "renewal moves the expiry ({first} -> {renewed})"
    );

    // A short lock left by a session that died: free once it expires.
    assert!(one.try_lock(name, "mx1/1/1", 1).await.unwrap());
    assert!(!two.try_lock(name, "mx2/1/1", 60).await.unwrap());
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(
        two.try_lock(name, "mx2/1/1", 60).await.unwrap(),
        "expired locks are taken"
    );
    assert!(
        !one.try_lock(name, "mx1/1/1", 60).await.unwrap(),
        "and then held"
    );
    let l = one.locks().await.unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].1, "mx2/1/1");
    assert!(l[0].2 >= now() + 50, "the taker's expiry, not the old one");
}

// ---- schema -----------------------------------------------------------

const SCHEMA_VERSION_SQL: &str = "SELECT value FROM meta WHERE `key` = 'schema_version'";

async fn fresh_schema_version(b: &Backend) {
    let ix = b.open().await;
    drop(ix);
    assert_eq!(
        b.query_text(SCHEMA_VERSION_SQL).await,
        Some(SCHEMA_VERSION.to_string())
    );
    // Opening again changes nothing and loses nothing.
    let ix = b.open().await;
    ix.put_domain(domain("example.com")).await.unwrap();
    drop(ix);
    let ix = b.open().await;
    assert!(ix.has_domain("example.com").await.unwrap());
}

async fn upgrade_from_v1(b: &Backend) {
    b.exec(b.schema_v1()).await;
    b.exec(&[
        "INSERT INTO domains VALUES ('example.com', '2026-01-01T00:00:00Z')",
        "INSERT INTO users (address, domain, password, display_name, quota_bytes, disabled, created)
         VALUES ('bob@example.com', 'example.com', 'hash', 'Bob', 5000, 0, '2026-01-01T00:00:00Z')",
        "INSERT INTO folders (id, address, name, path) VALUES (3, 'bob@example.com', 'INBOX', 'm')",
        "INSERT INTO messages (folder_id, uniq, subdir, file_name, flags, size, wire_size, mtime,
            internal_date, uidl, hdr_from, hdr_to, subject, hdr_date, message_id, has_attachment,
            parse_status)
         VALUES (3, '1.a', 'cur', '1.a:2,S', 'S', 10, 12, 5, 4, '1.a', 'A <a@b>', NULL,
            '제목', NULL, NULL, 1, 0)",
        "INSERT INTO locks VALUES ('pop3:bob@example.com', 'mx/1/1', 4102444800)",
    ])
    .await;

    let ix = b.open().await;
    assert_eq!(
        b.query_text(SCHEMA_VERSION_SQL).await,
        Some(SCHEMA_VERSION.to_string())
    );
    assert!(ix.has_domain("example.com").await.unwrap());
    let bob = ix.user("bob@example.com").await.unwrap().unwrap();
    assert_eq!(
        (bob.display_name.as_deref(), bob.quota_bytes),
        (Some("Bob"), Some(5000))
    );
    let rec = ix.folder_record(3).await.unwrap().unwrap();
    assert_eq!(
        (rec.uidvalidity, rec.uidnext),
        (0, 1),
        "v2 columns get their defaults"
    );
    let m = &ix.messages(3).await.unwrap()[0];
    assert_eq!((m.uniq.as_str(), m.uid, m.flags.as_str()), ("1.a", 0, "S"));
    assert_eq!(m.meta.subject.as_deref(), Some("제목"));
    assert!(m.meta.has_attachment);
    assert_eq!(ix.locks().await.unwrap().len(), 1);

    // And v2 works on the upgraded tables.
    ix.set_uids(3, 42, 2, vec![("1.a".into(), 1)])
        .await
        .unwrap();
    assert_eq!(ix.messages(3).await.unwrap()[0].uid, 1);
    assert_eq!(
        inbox(&ix, "bob@example.com").await,
        3,
        "found by account and name"
    );
    let sent = ix
        .folder("bob@example.com", "Sent", "m/.Sent")
        .await
        .unwrap();
    assert!(sent > 3, "new ids follow the old ones: {sent}");
}

async fn newer_schema_refused(b: &Backend) {
    drop(b.open().await);
    b.exec(&["UPDATE meta SET value = '99' WHERE `key` = 'schema_version'"])
        .await;
    match b.try_open().await {
        Err(IndexError::TooNew { found, known }) => {
            assert_eq!((found, known), (99, SCHEMA_VERSION));
            let text = IndexError::TooNew { found, known }.to_string();
            assert!(text.contains("newer"), "{text}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
    assert_eq!(
        b.query_text(SCHEMA_VERSION_SQL).await.as_deref(),
        Some("99"),
        "left alone"
    );
}

async fn concurrent_first_open(b: &Backend) {
    // Two servers starting at once on an empty database: one creates the
    // schema, the other waits and finds it.
    let (x, y, z) = tokio::join!(b.try_open(), b.try_open(), b.try_open());
    let (x, y, z) = (x.unwrap(), y.unwrap(), z.unwrap());
    x.put_domain(domain("example.com")).await.unwrap();
    assert!(y.has_domain("example.com").await.unwrap());
    assert!(z.has_domain("example.com").await.unwrap());
    assert_eq!(
        b.query_text(SCHEMA_VERSION_SQL).await,
        Some(SCHEMA_VERSION.to_string())
    );
}

// ---- through the store ------------------------------------------------

async fn store_round_trip(b: &Backend) {
    let store = Store::new(
        DataDir::new(b.data_root()),
        b.open().await,
        &StoreOptions {
            hostname: "mx.example.com".into(),
            info_separator: ':',
        },
    );
    let dn = DomainName::parse("example.com").unwrap();
    let bob = Address::parse("bob@example.com").unwrap();
    store.add_domain(&dn).await.unwrap();
    store.add_user(&bob, "correct horse").await.unwrap();

    let bodies = [
        "From: 김철수 <kim@example.kr>\r\nTo: bob@example.com\r\nSubject: =?UTF-8?B?7ZqM7J2Y?=\r\n\r\n안녕하세요\r\n",
        "From: a@example.org\r\nSubject: plain\r\n\r\nbare\nLF body\n",
    ];
    for body in bodies {
        let prefix = b"Return-Path: <a@example.org>\r\nDelivered-To: bob@example.com\r\n".to_vec();
        let body = Body::Memory(Arc::new(body.as_bytes().to_vec()));
        store
            .deliver(std::slice::from_ref(&bob), vec![prefix], body)
            .await
            .unwrap();
    }
    let folder = store.inbox(&bob).await.unwrap();
    let listed = store.open_folder(&folder).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
    let subjects: BTreeSet<_> = listed
        .iter()
        .filter_map(|m| m.meta.subject.as_deref())
        .collect();
    assert_eq!(subjects, BTreeSet::from(["plain", "회의"]));
    assert_eq!(
        store.index().usage("bob@example.com").await.unwrap(),
        listed.iter().map(|m| m.size).sum::<u64>()
    );

    let check = resync::Options {
        dry_run: true,
        ..resync::Options::default()
    };
    let report = resync::resync(&store, &check).await.unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    assert_eq!(report.files_seen, 2);

    // Forget everything the index knows and rebuild it from the files: the
    // same rows come back, UIDs included (from nmail-uidlist).
    store.index().delete_domain("example.com").await.unwrap();
    let report = resync::resync(&store, &resync::Options::default())
        .await
        .unwrap();
    assert_eq!(report.added, 4, "domain, user and two messages: {report:?}");
    let folder = store.inbox(&bob).await.unwrap();
    let rebuilt = store.index().messages(folder.id).await.unwrap();
    assert_eq!(rebuilt, listed);
    let report = resync::resync(&store, &check).await.unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
}

// ---- the two test sets ------------------------------------------------

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let b = super::Backend::new(super::Kind::Sqlite).await;
                    super::$case(&b).await;
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let b = super::Backend::new(super::Kind::Mysql).await;
                    super::$case(&b).await;
                }
            )*
        }
    };
}

conformance!(
    domains,
    users,
    folders,
    folder_names_are_exact,
    messages_round_trip,
    one_message_by_key,
    keys_are_exact_bytes,
    long_and_korean_text,
    large_batch,
    uid_kept_on_zero_upsert,
    same_second_in_uid_order,
    set_uids,
    usage_sums_folders,
    delete_domain_cascades,
    lock_contention_two_servers,
    lock_race,
    lock_expiry_and_renewal,
    fresh_schema_version,
    upgrade_from_v1,
    newer_schema_refused,
    concurrent_first_open,
    store_round_trip,
);

// ---- MySQL only -------------------------------------------------------

#[tokio::test]
async fn mysql_url_needs_a_database_and_hides_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let e = Index::open("mysql://root:s3cret@127.0.0.1:3306", dir.path())
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, IndexError::Url(_)), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let e = Index::open("postgres://u:s3cret@h/db", dir.path())
        .await
        .unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "{e}");
}
