//! The store on each engine, without the server: SQLite in a temporary folder, and a database of
//! the test process's own PostgreSQL ([`xif_testpg`]).
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use xif_model::Value;
use xif_store::{Comparison, Db, Error, Filter, NewPublish, NewVersion, Query, SchemaChange, VersionFacts};

const GUEST_BOOK: &str = r#"
[extension]
name = "GuestBook"

[entities.Visit]
Id = { type = "Long Integer", identifier = true, auto_number = true }
Who = { type = "Text", length = 100 }
Amount = { type = "Decimal", mandatory = false }
At = { type = "Date Time", mandatory = false }
Paid = { type = "Boolean", mandatory = false }
Photo = { type = "Binary Data", mandatory = false }
"#;

fn log<'a>(digest: &'a str) -> NewPublish<'a> {
    NewPublish {
        extension: "GuestBook",
        version: 1,
        digest,
        kind: "publish",
        user_name: "admin",
        started_at: 0,
        ms: 1,
        outcome: "published",
        message: None,
        stages: "[]".into(),
        warnings: "[]".into(),
    }
}

async fn exercise(db: &Db) {
    let id = db.create_user("Ada", "hash", true).await.expect("user");
    assert!(matches!(db.create_user("ada", "hash", false).await, Err(Error::Conflict(_))));
    let u = db.user("ADA").await.expect("read").expect("found");
    assert!(u.is_admin);
    assert_eq!(u.id, id);
    db.set_permissions(id, &["Allow Extensions"]).await.expect("permissions");
    assert_eq!(db.permissions(id).await.expect("read"), ["Allow Extensions"]);
    let t = db.insert_token(id, "ci", "api", "h1", i64::MAX).await.expect("token");
    let owner = db.token_owner("h1", 0).await.expect("read").expect("owner");
    assert_eq!((owner.token_id, owner.is_admin), (t, true));
    assert_eq!(db.tokens(None, "api").await.expect("tokens").len(), 1);
    assert_eq!(db.tokens(Some(id), "api").await.expect("tokens").len(), 1);

    let facts = VersionFacts { entities: vec!["Visit".into()], secret_settings: vec![] };
    let v = NewVersion {
        extension: "GuestBook",
        digest: "d1",
        size: 3,
        description: "",
        toolchain: "t",
        uploaded_by: "Ada",
        facts: &facts,
    };
    assert_eq!(db.add_version(&v).await.expect("version"), (1, true));
    assert_eq!(db.add_version(&v).await.expect("again"), (1, false));
    let ext = db.extension("guestbook").await.expect("read").expect("extension");

    let (def, diags) = xif_model::parse(GUEST_BOOK);
    let def = def.unwrap_or_else(|| panic!("{diags:?}"));
    let change = SchemaChange { def: &def, source: GUEST_BOOK, rollback: false, force: false };
    let store = db
        .provision_and_activate(
            change,
            ext.id,
            1,
            xif_store::Activation::Activate,
            async |p: &xif_store::Provisioned| {
                assert_eq!(p.steps, ["Visit: new table"]);
                Ok::<_, Error>((db.entity_store(&def, &p.schemas)?, log("d1")))
            },
        )
        .await
        .expect("provisioned and activated");
    assert_eq!(db.extension("GuestBook").await.expect("read").expect("e").active_version, Some(1));

    let deadline = || Instant::now() + Duration::from_secs(10);
    let d = |s: &str| Value::Decimal(rust_decimal::Decimal::from_str(s).expect("decimal"));
    let amounts = ["1.000000000000000000000000002", "-1.000000000000000000000000001", "1.000000000000000000000000001"];
    for (i, a) in amounts.iter().enumerate() {
        let rec = vec![
            Value::LongInteger(0),
            Value::Text(format!("v{i}")),
            d(a),
            Value::DateTime(xif_model::value::parse_date_time("2026-12-02T01:02:03.004Z").expect("time")),
            Value::Boolean(i == 1),
            Value::Binary(vec![0, 1, 2, 255]),
        ];
        let back = store.create_before("Visit", rec, deadline()).await.expect("created");
        assert_eq!(back[0], Value::LongInteger(i64::try_from(i).expect("small") + 1));
    }
    let got = store.get_before("Visit", Value::LongInteger(2), deadline()).await.expect("get").expect("found");
    assert_eq!(got[2], d("-1.000000000000000000000000001"));
    assert_eq!(got[4], Value::Boolean(true));
    assert_eq!(got[5], Value::Binary(vec![0, 1, 2, 255]));
    let q = Query { order_by: vec![("Amount".into(), false)], limit: 10, ..Default::default() };
    let rows = store.query_before("Visit", q, deadline()).await.expect("query");
    let ids: Vec<Value> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, [Value::LongInteger(2), Value::LongInteger(3), Value::LongInteger(1)]);
    let q = Query {
        filters: vec![Filter {
            attribute: "Amount".into(),
            comparison: Comparison::Greater,
            value: d("1.000000000000000000000000001"),
        }],
        limit: 10,
        ..Default::default()
    };
    let rows = store.query_before("Visit", q, deadline()).await.expect("query");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], Value::LongInteger(1));
    let q = Query {
        filters: vec![Filter {
            attribute: "Who".into(),
            comparison: Comparison::Contains,
            value: Value::Text("2".into()),
        }],
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.query_before("Visit", q, deadline()).await.expect("contains").len(), 1);
    let mut rec = got.clone();
    rec[1] = Value::Text("renamed".into());
    assert!(store.update_before("Visit", rec, deadline()).await.expect("update"));
    assert!(store.delete_before("Visit", Value::LongInteger(3), deadline()).await.expect("delete"));

    db.set_settings("GuestBook", &[("A".into(), Some(("1".into(), true)))], "Ada").await.expect("settings");
    let all = db.all_settings().await.expect("settings");
    assert!(all[0].secret);
    assert_eq!(db.secret_settings_of("GuestBook").await.expect("secret").len(), 1);
    db.console_record_action_error("GuestBook", 1, "Sign", "Ada", "trap", "boom", 10, 1000).await.expect("error row");
    assert_eq!(db.console_action_errors(10).await.expect("errors").len(), 1);
    assert_eq!(db.console_extensions("guest").await.expect("list").len(), 1);
    assert_eq!(db.console_users().await.expect("users").len(), 1);
    db.console_create_session(id, "s1", "csrf", i64::MAX).await.expect("session");
    assert!(db.console_session("s1").await.expect("session").expect("found").is_admin);
    assert_eq!(db.revoke_all(id).await.expect("revoke"), (1, 1));
    if db.stores_packages() {
        db.put_package("d1", b"bytes").await.expect("put");
        db.put_package("d1", b"bytes").await.expect("again");
        assert_eq!(db.package("d1").await.expect("get").as_deref(), Some(&b"bytes"[..]));
        assert!(!db.delete_package_if_unused("d1").await.expect("in use"));
    }
    db.delete_extension(ext.id, "GuestBook").await.expect("deleted");
    assert!(db.entity_names("GuestBook").await.expect("names").is_empty());
    db.close().await;
}

#[tokio::test]
async fn the_store_works_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(&format!("sqlite://{}", dir.path().join("xif.db").display())).await.expect("open");
    exercise(&db).await;
}

#[tokio::test]
async fn the_store_works_on_postgres() {
    let db = Db::open(&xif_testpg::database("store_works")).await.expect("open");
    exercise(&db).await;
}

fn line(extension_id: i64, n: usize) -> xif_store::LogRow {
    xif_store::LogRow {
        id: 0,
        extension_id,
        version: 1,
        action: if n.is_multiple_of(2) { "Even" } else { "Odd" }.into(),
        level: (n % 5) as i32,
        source: "host".into(),
        at: n as i64,
        call_id: format!("call-{n}"),
        message: format!("line {n}"),
    }
}

#[tokio::test]
async fn the_log_store_keeps_exactly_the_newest_lines_across_chunks_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    log_store(&format!("sqlite://{}?mode=rwc", dir.path().join("xif.db").display())).await;
}

#[tokio::test]
async fn the_log_store_keeps_exactly_the_newest_lines_across_chunks_on_postgres() {
    log_store(&xif_testpg::database("log_store")).await;
}

/// Extensions with these ids (lines are kept only for extensions that exist).
async fn extensions_with_ids(url: &str, ids: &[i64]) {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    for id in ids {
        sqlx::query("INSERT INTO extensions (id, name, name_key, created_at) VALUES ($1, $2, $3, 0)")
            .bind(*id)
            .bind(format!("Ext{id}"))
            .bind(format!("ext{id}"))
            .execute(&mut conn)
            .await
            .expect("an extension");
    }
    conn.close().await.expect("close");
}

async fn log_store(url: &str) {
    use xif_store::LogQuery;
    let db = Db::open(url).await.expect("open");
    extensions_with_ids(url, &[1, 2]).await;
    let chunk = xif_store::CHUNK_LINES;
    // Two extensions in one batch, interleaved; then a second batch for the first.
    let first: Vec<_> = (0..2 * chunk + 10).map(|n| line(1 + (n % 2) as i64, n)).collect();
    db.write_logs(&first.iter().map(|r| r.to_new()).collect::<Vec<_>>(), 300).await.expect("first batch");
    let second: Vec<_> = (1000..1000 + chunk).map(|n| line(1, n)).collect();
    db.write_logs(&second.iter().map(|r| r.to_new()).collect::<Vec<_>>(), 300).await.expect("second batch");

    let all = LogQuery { limit: 10_000, ..LogQuery::default() };
    let one = db.read_logs(1, &all).await.expect("read");
    // Extension 1 had chunk + 5 lines, then chunk more: the newest 300 are kept, in order.
    assert_eq!(one.len(), 300);
    let ids: Vec<i64> = one.iter().map(|r| r.id).collect();
    let total = (chunk + 5 + chunk) as i64;
    assert_eq!(ids, ((total - 299)..=total).collect::<Vec<_>>());
    assert_eq!(one.last().map(|r| r.message.as_str()), Some(&*format!("line {}", 1000 + chunk - 1)));
    let two = db.read_logs(2, &all).await.expect("read");
    assert_eq!(two.len(), chunk + 5);
    assert!(two.iter().all(|r| r.at % 2 == 1 && r.extension_id == 2));

    // The newest few, and a page after an id, with filters.
    let newest = db.read_logs(1, &LogQuery { limit: 3, ..LogQuery::default() }).await.expect("read");
    assert_eq!(newest.iter().map(|r| r.id).collect::<Vec<_>>(), [total - 2, total - 1, total]);
    let after = LogQuery { after: Some(total - 290), limit: 4, min_level: 3, ..LogQuery::default() };
    let page = db.read_logs(1, &after).await.expect("read");
    assert_eq!(page.len(), 4);
    assert!(page.iter().all(|r| r.id > total - 290 && r.level >= 3));
    assert!(page.windows(2).all(|w| w[0].id < w[1].id));
    let call = LogQuery { call_id: Some(format!("call-{}", 1000 + 7)), limit: 10, ..LogQuery::default() };
    let found = db.read_logs(1, &call).await.expect("read");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].message, "line 1007");
    let odd = LogQuery { action: Some("Odd".into()), limit: 10_000, ..LogQuery::default() };
    assert_eq!(db.read_logs(2, &odd).await.expect("read").len(), chunk + 5);
    assert!(db.read_logs(1, &odd).await.expect("read").iter().all(|r| r.action == "Odd"));
    assert!(
        db.read_logs(1, &LogQuery { after: Some(total), limit: 5, ..LogQuery::default() })
            .await
            .expect("read")
            .is_empty()
    );
    // How far a read looked: a filter that matches nothing still moves a follower past what it
    // read; a page cut at its limit goes on from its last line; without `after`, the newest id.
    let none = LogQuery { after: Some(total - 290), action: Some("Nobody".into()), limit: 10, ..LogQuery::default() };
    assert_eq!(db.read_logs_scanned(1, &none).await.expect("read"), (Vec::new(), total));
    let (cut, scanned) = db.read_logs_scanned(1, &after).await.expect("read");
    assert_eq!(scanned, cut.last().map(|r| r.id).expect("a line"));
    let (nothing, newest) = db.read_logs_scanned(1, &LogQuery { limit: 0, ..LogQuery::default() }).await.expect("read");
    assert_eq!((nothing.len(), newest), (0, total));
    assert_eq!(db.read_logs_scanned(99, &all).await.expect("read"), (Vec::new(), 0), "an extension without lines");

    db.delete_logs(1).await.expect("delete");
    assert!(db.read_logs(1, &all).await.expect("read").is_empty());
    assert_eq!(db.read_logs(2, &all).await.expect("read").len(), chunk + 5);
    db.close().await;
}

/// A database with lines in the one-row-per-line table of the earlier migration keeps them,
/// numbered per extension, when the chunk migration moves them.
#[tokio::test]
async fn the_chunk_migration_keeps_the_lines_stored_before_it_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("xif.db").display());
    chunk_migration(&url, "sqlite", "0008").await;
}

#[tokio::test]
async fn the_chunk_migration_keeps_the_lines_stored_before_it_on_postgres() {
    chunk_migration(&xif_testpg::database("chunk_migration"), "postgres", "0005").await;
}

async fn chunk_migration(url: &str, engine: &str, chunks: &str) {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("tempdir");
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(engine);
    for e in std::fs::read_dir(&here).expect("migrations") {
        let path = e.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name.as_str() < chunks {
            std::fs::copy(&path, dir.path().join(&name)).expect("copy");
        }
    }
    {
        let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
        let before = sqlx::migrate::Migrator::new(dir.path()).await.expect("migrator");
        before.run(&mut conn).await.expect("the migrations before the chunks");
        for (ext, msg) in [(5, "a"), (6, "x"), (5, "b"), (5, "c")] {
            sqlx::query(
                "INSERT INTO extension_logs (extension_id, version, action, level, source, at, call_id, message)
                 VALUES ($1, 2, 'Greet', 3, 'stdout', 42, 'c1', $2)",
            )
            .bind(ext as i64)
            .bind(msg)
            .execute(&mut conn)
            .await
            .expect("old line");
        }
        conn.close().await.expect("close");
    }
    let db = Db::open(url).await.expect("migrated");
    extensions_with_ids(url, &[5, 6]).await;
    let all = xif_store::LogQuery { limit: 100, ..Default::default() };
    let five = db.read_logs(5, &all).await.expect("read");
    let got: Vec<(i64, &str)> = five.iter().map(|r| (r.id, r.message.as_str())).collect();
    assert_eq!(got, [(1, "a"), (2, "b"), (3, "c")]);
    assert_eq!((five[0].version, five[0].level, five[0].at), (2, 3, 42));
    assert_eq!((five[0].action.as_str(), five[0].source.as_str(), five[0].call_id.as_str()), ("Greet", "stdout", "c1"));
    // New lines follow on from the migrated ones.
    db.write_logs(&[line(5, 9).to_new()], 100).await.expect("write");
    assert_eq!(db.read_logs(5, &all).await.expect("read").last().map(|r| r.id), Some(4));
    assert_eq!(db.read_logs(6, &all).await.expect("read").len(), 1);
    // A line of an extension that does not exist (deleted while its call ran) is not kept.
    db.write_logs(&[line(7, 1).to_new(), line(5, 10).to_new()], 100).await.expect("write");
    assert!(db.read_logs(7, &all).await.expect("read").is_empty());
    assert_eq!(db.read_logs(5, &all).await.expect("read").len(), 5);
    db.close().await;
}
