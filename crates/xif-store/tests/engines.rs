//! The store on each engine, without the server: SQLite in a temporary folder always, and
//! PostgreSQL when `XIF_STORE_TEST_POSTGRES` holds the URL of an empty database.
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
        .provision_and_activate(change, ext.id, 1, async |p: &xif_store::Provisioned| {
            assert_eq!(p.steps, ["Visit: new table"]);
            Ok::<_, Error>((db.entity_store(&def, &p.schemas)?, log("d1")))
        })
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
    let Ok(url) = std::env::var("XIF_STORE_TEST_POSTGRES") else {
        eprintln!("XIF_STORE_TEST_POSTGRES is not set: skipped");
        return;
    };
    let db = Db::open(&url).await.expect("open");
    exercise(&db).await;
}
