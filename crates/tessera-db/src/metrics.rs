//! `tessera_db_pool_connections{state}` (feature `metrics`): the pool's connections, idle or
//! in use, sampled when scraped, for `tessera serve` and `tessera api` alike.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::Database;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// The pool gauge of one database, registered in a registry and set by [`Self::sample`].
#[derive(Debug, Clone)]
pub struct PoolMetrics {
    db: Database,
    connections: Family<StateLabel, Gauge>,
}

impl PoolMetrics {
    /// Registers `tessera_db_pool_connections` for `db`'s pool in `registry`.
    pub fn register(registry: &mut Registry, db: Database) -> Self {
        let connections = Family::<StateLabel, Gauge>::default();
        registry.register(
            "tessera_db_pool_connections",
            "Database pool connections, by state (idle, in_use)",
            connections.clone(),
        );
        Self { db, connections }
    }

    /// Sets the gauge from the pool as it is now.
    pub fn sample(&self) {
        let (size, idle) = match &self.db {
            Database::Sqlite(pool) => (pool.size(), pool.num_idle()),
            Database::Postgres(pool) => (pool.size(), pool.num_idle()),
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        self.connections
            .get_or_create(&StateLabel { state: "idle" })
            .set(i64::from(idle));
        self.connections
            .get_or_create(&StateLabel { state: "in_use" })
            .set(i64::from(size.saturating_sub(idle)));
    }
}
