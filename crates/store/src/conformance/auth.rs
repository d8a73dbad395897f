//! Stories of users, tokens and the audit trail.

use std::sync::Arc;

use chrono::{Duration, Utc};
use domain::auth::{Grant, Role};
use domain::ids::LocationCode;

use crate::{AuditFilter, NewAudit, NewToken, NewUser, Store, StoreError};

fn audit(actor: &str, target: &str) -> NewAudit {
    NewAudit {
        at: Utc::now(),
        actor: actor.into(),
        role: "admin".into(),
        action: "POST /api/v1/things".into(),
        target: target.into(),
        request_id: "req".into(),
        source: "127.0.0.1".into(),
        status: 201,
        summary: "{\"a\":1}".into(),
    }
}

/// Tokens are found by the hash of their secret, keep their grant, and stop working when
/// revoked or expired.
pub async fn tokens_story(store: Arc<dyn Store>) {
    let now = Utc::now();
    let grant = Grant {
        locations: vec![LocationCode::from_trusted("ST-1".into())],
        ..Grant::role(Role::Device)
    };
    let issued = store
        .insert_token(NewToken::new("pos-1", grant.clone(), "hash-1", now))
        .await
        .unwrap();
    let found = store
        .find_token("hash-1", now)
        .await
        .unwrap()
        .expect("token found");
    assert_eq!(found, issued);
    assert_eq!(found.grant, grant);
    assert_eq!(found.principal().actor, "pos-1");
    assert!(store.find_token("hash-2", now).await.unwrap().is_none());
    let dup = store
        .insert_token(NewToken::new(
            "again",
            Grant::role(Role::Manager),
            "hash-1",
            now,
        ))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");

    let expiring = NewToken {
        expires_at: Some(now + Duration::hours(1)),
        ..NewToken::new("short", Grant::role(Role::Manager), "hash-3", now)
    };
    store.insert_token(expiring).await.unwrap();
    assert!(store.find_token("hash-3", now).await.unwrap().is_some());
    let later = now + Duration::hours(2);
    assert!(store.find_token("hash-3", later).await.unwrap().is_none());

    let revoked = store.revoke_token(issued.token_id, now).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.locations, vec!["ST-1".to_owned()]);
    assert!(store.find_token("hash-1", now).await.unwrap().is_none());
    let listed = store.list_tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
}

/// A user is created once, found for login with its failures counted, and disabling it
/// revokes every token issued to it.
pub async fn users_log_in_and_disabling_kills_their_tokens(store: Arc<dyn Store>) {
    let now = Utc::now();
    let user = store
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: "$argon2id$fake".into(),
            grant: Grant {
                customer: Some("BJ-TEA".into()),
                ..Grant::role(Role::Customer)
            },
            now,
        })
        .await
        .unwrap();
    let again = store
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: "x".into(),
            grant: Grant::role(Role::Admin),
            now,
        })
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );

    store.note_login("alice", false, now).await.unwrap();
    store.note_login("alice", false, now).await.unwrap();
    let record = store.login_record("alice").await.unwrap().expect("user");
    assert_eq!(record.password_hash, "$argon2id$fake");
    assert_eq!(record.failed_logins, 2);
    assert_eq!(record.user, user);
    store.note_login("alice", true, now).await.unwrap();
    let record = store.login_record("alice").await.unwrap().expect("user");
    assert_eq!(record.failed_logins, 0);
    assert!(store.login_record("bob").await.unwrap().is_none());

    let token = store
        .insert_token(NewToken {
            user_id: Some(user.user_id),
            ..NewToken::new("login", user.grant.clone(), "hash-a", now)
        })
        .await
        .unwrap();
    assert_eq!(token.username.as_deref(), Some("alice"));
    let found = store
        .find_token("hash-a", now)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(found.principal().actor, "alice");

    let disabled = store.disable_user("alice", now).await.unwrap();
    assert!(disabled.disabled_at.is_some());
    assert!(store.find_token("hash-a", now).await.unwrap().is_none());
    assert!(matches!(
        store.disable_user("nobody", now).await,
        Err(StoreError::NotFound { .. })
    ));
    let users = store.list_users(None, 10).await.unwrap();
    assert_eq!(users.len(), 1);
    assert!(
        store
            .list_users(Some("alice"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Audit entries are numbered 1, 2, 3 …, each linked to the one before; `verify` checks
/// the chain; listing filters by actor, target and time.
pub async fn the_audit_trail_is_a_gap_free_hash_chain(store: Arc<dyn Store>) {
    let first = store
        .append_audit(audit("alice", "/api/v1/users"))
        .await
        .unwrap();
    let second = store
        .append_audit(audit("bob", "/api/v1/orders/SO-1/approve"))
        .await
        .unwrap();
    assert_eq!((first.audit_id, second.audit_id), (1, 2));
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(
        crate::auth::audit_hash(2, &second.entry, &first.hash),
        second.hash
    );
    let report = store.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.audit_entries, 2);

    let by_bob = AuditFilter {
        actor: Some("bob".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        store.list_audit(&by_bob, None, 10).await.unwrap(),
        vec![second.clone()]
    );
    let orders = AuditFilter {
        target: Some("/api/v1/orders".into()),
        ..AuditFilter::default()
    };
    assert_eq!(store.list_audit(&orders, None, 10).await.unwrap().len(), 1);
    let future = AuditFilter {
        from: Some(Utc::now() + Duration::hours(1)),
        ..AuditFilter::default()
    };
    assert!(
        store
            .list_audit(&future, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let all = store
        .list_audit(&AuditFilter::default(), Some(1), 10)
        .await
        .unwrap();
    assert_eq!(all, vec![second]);
}

/// Many tasks appending at once, one entry or a group at a time, still make one unbroken
/// chain, each group's entries consecutive and in the order given.
pub async fn concurrent_audit_appends_keep_the_chain(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                if t % 2 == 0 {
                    for i in 0..10 {
                        store
                            .append_audit(audit(&format!("task-{t}"), &format!("/x/{i}")))
                            .await
                            .unwrap();
                    }
                } else {
                    for g in 0..2 {
                        let group: Vec<NewAudit> = (0..5)
                            .map(|i| audit(&format!("task-{t}"), &format!("/g{g}/{i}")))
                            .collect();
                        let stored = store.append_audits(group).await.unwrap();
                        let targets: Vec<&str> =
                            stored.iter().map(|e| e.entry.target.as_str()).collect();
                        let expected: Vec<String> = (0..5).map(|i| format!("/g{g}/{i}")).collect();
                        assert_eq!(targets, expected);
                        assert!(
                            stored.windows(2).all(|w| w[1].audit_id == w[0].audit_id + 1
                                && w[1].prev_hash == w[0].hash),
                            "a group is one consecutive stretch of the chain"
                        );
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let all = store
        .list_audit(&AuditFilter::default(), None, 1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 160);
    assert!(
        all.iter()
            .enumerate()
            .all(|(i, e)| e.audit_id == i as i64 + 1)
    );
    let report = store.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");
}
