//! The conformance suite's view of [`store_sql::testing`] databases.

use std::sync::Arc;

use async_trait::async_trait;
use store::Store;
use store::conformance::TestDb;
use store_sql::testing::TestDatabase;

struct Db(TestDatabase);

#[async_trait]
impl TestDb for Db {
    fn store(&self) -> Arc<dyn Store> {
        self.0.store.clone()
    }

    async fn cleanup(self: Box<Self>) {
        self.0.cleanup().await;
    }
}

pub async fn sqlite_db(name: &str) -> Option<Box<dyn TestDb>> {
    Some(Box::new(Db(TestDatabase::sqlite(name).await.unwrap())))
}

pub async fn pg_db(name: &str) -> Option<Box<dyn TestDb>> {
    TestDatabase::postgres(name)
        .await
        .unwrap()
        .map(|db| Box::new(Db(db)) as Box<dyn TestDb>)
}
