//! Wasm tenant resolvers: a policy exporting `tenant-resolver` names the
//! tenant of a connecting client, directly and through the broker; a policy
//! without the export does not resolve.

use std::sync::Arc;

use rmqtt_js_host::hooks::{HookBackend, HookError, HookSet};
use rmqtt_js_host::wasm::Exports;
use rmqtt_js_host::Broker;

use crate::support::{connect as connect_client, options, tenancy_config, try_connect};
use crate::wasm_support::{connect, load};

#[tokio::test(flavor = "multi_thread")]
async fn the_resolver_guest_names_tenants_by_client_id_then_username() {
    let p = load("tenant-resolver.wasm").await;
    assert_eq!(
        p.exports(),
        Exports {
            tenant_resolver: true,
            ..Exports::default()
        }
    );
    assert!(p.hooks().is_empty(), "a resolver serves no hook");
    let mut req = connect(Some("bob.globex"), None);
    req.client_id = "acme/dev-1".into();
    assert_eq!(p.resolve_tenant(req.clone()).await, Ok(Some("acme".into())));
    req.client_id = "dev-2".into();
    assert_eq!(
        p.resolve_tenant(req.clone()).await,
        Ok(Some("globex".into()))
    );
    req.username = Some("bob".into());
    assert_eq!(p.resolve_tenant(req.clone()).await, Ok(None));

    let acl = load("rust-acl.wasm").await;
    assert!(!acl.exports().tenant_resolver);
    assert_eq!(acl.resolve_tenant(req).await, Err(HookError::NotSupported));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wasm_resolver_routes_clients_before_the_username_rule() {
    let broker = Broker::new();
    for id in ["acme", "globex"] {
        broker
            .add_tenant(id.into(), HookSet::new())
            .await
            .expect("tenant");
    }
    let resolver: Arc<dyn HookBackend> = Arc::new(load("tenant-resolver.wasm").await);
    broker.set_tenant_resolver(Some(resolver));
    let port = broker.start(tenancy_config()).await.expect("start")[0].port;

    let _by_id = connect_client(options("acme/dev-1", port)).await;
    let mut by_user = options("dev-2", port);
    by_user.set_credentials("bob@acme", "pw");
    let _by_user = connect_client(by_user).await;
    assert!(try_connect(options("nobody/dev-3", port)).await.is_err());
    // Connections are counted when rmqtt reports them, just after the CONNACK.
    let expected = vec![("acme".to_string(), 2), ("globex".to_string(), 0)];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now: Vec<(String, i64)> = (broker.tenant_stats().iter())
            .map(|s| (s.id.clone(), s.connections))
            .collect();
        if now == expected || tokio::time::Instant::now() > deadline {
            assert_eq!(now, expected);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    broker.stop().await.expect("stop");
}
