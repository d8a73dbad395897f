//! Webhook stories: subscriptions, leases, and how recorded attempts move (or do not move)
//! the delivery position.

use std::sync::Arc;

use chrono::{Duration, Utc};
use domain::stock::MovementKind::Receipt;
use domain::webhook::WebhookPatch;

use super::{location, movement, product};
use crate::alerts::AlertFilter;
use crate::webhooks::{
    DeliveryOutcome, DisablePolicy, LeaseClaim, NewDelivery, NewWebhook, WebhookSecret, lease_name,
};
use crate::{EventFilter, Store, StoreError};

fn new_webhook(url: &str) -> NewWebhook {
    NewWebhook {
        url: url.into(),
        event_types: vec!["stock.*".into()],
        description: Some("ERP".into()),
        secret: WebhookSecret("whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0".into()),
    }
}

fn attempt(webhook_id: i64, seq: i64, n: i64, status: Option<i64>) -> NewDelivery {
    NewDelivery {
        webhook_id,
        event_seq: seq,
        event_id: format!("e{seq}"),
        event_type: "stock.changed".into(),
        attempt: n,
        manual: false,
        attempted_at: Utc::now(),
        status_code: status,
        error: status.is_none().then(|| "connection refused".to_owned()),
        duration_ms: 3,
    }
}

fn claim(holder: &str) -> LeaseClaim {
    LeaseClaim {
        holder: holder.into(),
        until: Utc::now() + Duration::seconds(30),
    }
}

/// A subscription starts after the log head; only the lease holder moves its position,
/// only on a 2xx and only from where it believes it is; failures count up and reset.
pub async fn webhook_positions_move_only_for_the_lease_holder_on_success(store: Arc<dyn Store>) {
    store.create_location(location("WH")).await.unwrap();
    store.create_product(product("A", 100, &[])).await.unwrap();
    let head = store.event_head().await.unwrap();
    let w = store
        .create_webhook(new_webhook("http://127.0.0.1:9/hook"), Utc::now())
        .await
        .unwrap();
    assert_eq!((w.delivered_seq, w.enabled), (head, true));
    assert_eq!(store.get_webhook(w.id).await.unwrap(), w);
    store
        .apply_movements(vec![movement("r1", "WH", "A", Receipt, 1)])
        .await
        .unwrap();
    let seq = store.event_head().await.unwrap();
    assert_eq!(store.event_at(seq).await.unwrap().id, "stock:r1");

    let name = lease_name(w.id);
    let (now, until) = (Utc::now(), Utc::now() + Duration::seconds(30));
    assert!(store.acquire_lease(&name, "n1", now, until).await.unwrap());
    assert!(
        store.acquire_lease(&name, "n1", now, until).await.unwrap(),
        "renewal"
    );
    assert!(!store.acquire_lease(&name, "n2", now, until).await.unwrap());

    let policy = DisablePolicy {
        after_failures: 100,
        after: Duration::hours(1),
    };
    for n in 1..=3 {
        let r = store
            .record_delivery(
                attempt(w.id, seq, n, Some(500)),
                head,
                &claim("n1"),
                &policy,
            )
            .await
            .unwrap();
        assert_eq!(r.outcome, DeliveryOutcome::Failed { failures: n });
    }
    let failing = store.get_webhook(w.id).await.unwrap();
    assert_eq!(
        (failing.consecutive_failures, failing.delivered_seq),
        (3, head)
    );
    assert!(failing.failing_since.is_some());

    let other = store
        .record_delivery(
            attempt(w.id, seq, 4, Some(200)),
            head,
            &claim("n2"),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(other.outcome, DeliveryOutcome::Stale, "n2 holds no lease");
    let wrong_place = store
        .record_delivery(
            attempt(w.id, seq, 4, Some(200)),
            head - 1,
            &claim("n1"),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(wrong_place.outcome, DeliveryOutcome::Stale);
    let done = store
        .record_delivery(
            attempt(w.id, seq, 4, Some(204)),
            head,
            &claim("n1"),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(done.outcome, DeliveryOutcome::Delivered);
    let delivered = store.get_webhook(w.id).await.unwrap();
    assert_eq!(
        (
            delivered.delivered_seq,
            delivered.consecutive_failures,
            delivered.failing_since
        ),
        (seq, 0, None)
    );
    let log = store.list_deliveries(w.id, None, 100).await.unwrap();
    assert_eq!(log.len(), 6, "every attempt is logged, stale ones too");
    assert_eq!(
        log.iter().map(|d| d.ok).collect::<Vec<_>>(),
        [true, true, true, false, false, false],
        "newest first"
    );
    assert_eq!(store.get_delivery(w.id, log[0].id).await.unwrap(), log[0]);
    assert!(matches!(
        store.get_delivery(w.id + 1, log[0].id).await,
        Err(StoreError::NotFound { .. })
    ));
    let page = store
        .list_deliveries(w.id, Some(log[1].id), 2)
        .await
        .unwrap();
    assert_eq!(page, log[2..4]);

    // A manual redelivery is logged and moves nothing.
    let manual = NewDelivery {
        manual: true,
        ..attempt(w.id, seq, 1, Some(200))
    };
    let r = store
        .record_delivery(manual, 0, &claim("anyone"), &policy)
        .await
        .unwrap();
    assert_eq!(r.outcome, DeliveryOutcome::Manual);
    assert_eq!(store.get_webhook(w.id).await.unwrap().delivered_seq, seq);

    // Skipping unwanted events moves the position only from where it is.
    assert!(
        !store
            .skip_webhook_events(w.id, seq - 1, seq + 5, &claim("n1"))
            .await
            .unwrap()
    );
    assert!(
        store
            .skip_webhook_events(w.id, seq, seq + 5, &claim("n1"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .skip_webhook_events(w.id, seq + 5, seq + 6, &claim("n2"))
            .await
            .unwrap()
    );

    // Replay goes back, never forward.
    let replayed = store.replay_webhook(w.id, 1, Utc::now()).await.unwrap();
    assert_eq!(replayed.delivered_seq, 0);
    let forward = store.replay_webhook(w.id, 3, Utc::now()).await;
    assert!(
        matches!(&forward, Err(StoreError::Invalid(e)) if e[0].field == "from_seq"),
        "{forward:?}"
    );

    // The lease is free again once released, or once expired.
    store.release_lease(&name, "n1").await.unwrap();
    assert!(
        store
            .acquire_lease(&name, "n2", Utc::now(), Utc::now())
            .await
            .unwrap()
    );
    assert!(
        store
            .acquire_lease(&name, "n1", Utc::now() + Duration::seconds(1), until)
            .await
            .unwrap(),
        "n2's lease expired"
    );

    let patched = store
        .update_webhook(
            w.id,
            WebhookPatch {
                url: Some("https://erp.example.com/in".into()),
                description: Some(None),
                enabled: Some(false),
                ..Default::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            patched.url.as_str(),
            patched.description.as_deref(),
            patched.enabled
        ),
        ("https://erp.example.com/in", None, false)
    );
    let second = store
        .create_webhook(new_webhook("http://127.0.0.1:9/other"), Utc::now())
        .await
        .unwrap();
    let listed = store.list_webhooks(None, 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        store.list_webhooks(Some(w.id), 10).await.unwrap()[0].id,
        second.id
    );
    store.delete_webhook(w.id).await.unwrap();
    assert!(matches!(
        store.get_webhook(w.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.list_deliveries(w.id, None, 10).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_webhook(w.id).await,
        Err(StoreError::NotFound { .. })
    ));
    let third = store
        .create_webhook(new_webhook("http://127.0.0.1:9/third"), Utc::now())
        .await
        .unwrap();
    assert!(third.id > second.id, "ids are never reused");
}

/// Failures in a row over the policy's span disable the subscription, with a
/// `webhook.disabled` event and one `webhook_failing` alert; `410 Gone` disables at once;
/// enabling again starts a fresh count.
pub async fn sustained_failure_disables_a_webhook_with_an_alert(store: Arc<dyn Store>) {
    let w = store
        .create_webhook(new_webhook("http://127.0.0.1:9/hook"), Utc::now())
        .await
        .unwrap();
    let name = lease_name(w.id);
    assert!(
        store
            .acquire_lease(&name, "n1", Utc::now(), Utc::now() + Duration::seconds(30))
            .await
            .unwrap()
    );
    let policy = DisablePolicy {
        after_failures: 3,
        after: Duration::zero(),
    };
    let outcomes: Vec<DeliveryOutcome> = {
        let mut v = Vec::new();
        for n in 1..=3 {
            let r = store
                .record_delivery(
                    attempt(w.id, 7, n, None),
                    w.delivered_seq,
                    &claim("n1"),
                    &policy,
                )
                .await
                .unwrap();
            v.push(r.outcome);
        }
        v
    };
    assert_eq!(
        outcomes,
        [
            DeliveryOutcome::Failed { failures: 1 },
            DeliveryOutcome::Failed { failures: 2 },
            DeliveryOutcome::Disabled
        ]
    );
    let disabled = store.get_webhook(w.id).await.unwrap();
    assert!(!disabled.enabled);
    assert!(
        disabled
            .disabled_reason
            .as_deref()
            .is_some_and(|r| r.contains("3 failed attempts") && r.contains("connection refused")),
        "{disabled:?}"
    );
    let events = store
        .events_after(0, &EventFilter::default(), 100)
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["webhook.disabled", "alert.raised"]);
    assert!(
        !events[0].data.to_string().contains("whsec_"),
        "the secret never reaches the log"
    );
    let alerts = store
        .list_alerts(&AlertFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(
        (alerts.len(), alerts[0].kind.as_str(), alerts[0].key.clone()),
        (1, "webhook_failing", w.id.to_string())
    );
    let after = store
        .record_delivery(
            attempt(w.id, 7, 4, None),
            w.delivered_seq,
            &claim("n1"),
            &policy,
        )
        .await
        .unwrap();
    assert_eq!(
        after.outcome,
        DeliveryOutcome::Stale,
        "disabled: nothing counts"
    );

    let enabled = store
        .update_webhook(
            w.id,
            WebhookPatch {
                enabled: Some(true),
                ..Default::default()
            },
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            enabled.enabled,
            enabled.consecutive_failures,
            enabled.disabled_reason
        ),
        (true, 0, None)
    );
    let slow = DisablePolicy {
        after_failures: 1,
        after: Duration::hours(1),
    };
    let r = store
        .record_delivery(
            attempt(w.id, 7, 1, Some(503)),
            w.delivered_seq,
            &claim("n1"),
            &slow,
        )
        .await
        .unwrap();
    assert_eq!(
        r.outcome,
        DeliveryOutcome::Failed { failures: 1 },
        "not failing for an hour yet"
    );
    let r = store
        .record_delivery(
            attempt(w.id, 7, 2, Some(410)),
            w.delivered_seq,
            &claim("n1"),
            &slow,
        )
        .await
        .unwrap();
    assert_eq!(r.outcome, DeliveryOutcome::Disabled, "410 Gone");
    assert_eq!(
        store
            .list_alerts(&AlertFilter::default(), None, 10)
            .await
            .unwrap()
            .len(),
        1,
        "the open webhook_failing alert is not raised twice"
    );
}
