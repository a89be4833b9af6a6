//! Retained messages that survive a restart: rmqtt's in-memory retainer,
//! wrapped so that every set and clear is in the store before the publisher
//! is acknowledged (rmqtt awaits the retainer on the publisher's path).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rmqtt::context::ServerContext;
use rmqtt::retain::RetainStorage;
use rmqtt::types::{Retain, TopicFilter, TopicName};
use rmqtt::utils::StatsMergeMode;
use rmqtt::Result;

use super::store::Store;

pub struct PersistentRetain {
    inner: Box<dyn RetainStorage>,
    store: Arc<Store>,
}

impl PersistentRetain {
    /// Wraps the context's retainer (the `rmqtt-retainer` plugin, started).
    pub async fn install(scx: &ServerContext, store: Arc<Store>) {
        let mut slot = scx.extends.retain_mut().await;
        let inner = std::mem::replace(
            &mut *slot,
            Box::new(rmqtt::retain::DefaultRetainStorage::new()),
        );
        *slot = Box::new(PersistentRetain { inner, store });
    }
}

#[async_trait]
impl RetainStorage for PersistentRetain {
    fn enable(&self) -> bool {
        self.inner.enable()
    }

    fn merge_on_read(&self) -> bool {
        self.inner.merge_on_read()
    }

    fn need_sync(&self) -> bool {
        self.inner.need_sync()
    }

    async fn set(
        &self,
        topic: &TopicName,
        retain: Retain,
        expiry_interval: Option<Duration>,
    ) -> Result<()> {
        let batch = if retain.publish.payload.is_empty() {
            self.store.retain_clear(topic)
        } else {
            let expires_at =
                expiry_interval.map(|d| rmqtt::utils::timestamp_millis() + d.as_millis() as i64);
            self.store
                .retain_set(topic, &retain.from, &retain.publish, expires_at)
        };
        self.inner.set(topic, retain, expiry_interval).await?;
        if batch > 0 {
            self.store.durable(batch).await;
        }
        Ok(())
    }

    async fn get(&self, topic_filter: &TopicFilter) -> Result<Vec<(TopicName, Retain)>> {
        self.inner.get(topic_filter).await
    }

    async fn get_all_paginated(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<(TopicName, Retain, Option<Duration>)>, bool)> {
        self.inner.get_all_paginated(offset, limit).await
    }

    async fn count(&self) -> isize {
        self.inner.count().await
    }

    async fn max(&self) -> isize {
        self.inner.max().await
    }

    fn stats_merge_mode(&self) -> StatsMergeMode {
        self.inner.stats_merge_mode()
    }
}
