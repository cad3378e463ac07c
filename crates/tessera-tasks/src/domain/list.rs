//! [`TaskList`]: what a list read returns, rendered to JSON at most once per sort order.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;

use super::{SortOrder, Task};

/// A user's tasks, newest first, as one store read returned them.
///
/// Cheap to clone (one `Arc`), so [`crate::store::ListCache`] hands out the list it holds
/// without copying it. Its JSON is rendered the first time each order is asked for and kept:
/// a cached list costs one serialisation per fill, not one per request.
#[derive(Debug, Clone)]
pub struct TaskList(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    tasks: Vec<Task>,
    by_created: OnceLock<Bytes>,
    by_title: OnceLock<Bytes>,
}

impl TaskList {
    /// Wraps tasks that are already newest first (the order every store returns).
    pub fn newest_first(tasks: Vec<Task>) -> Self {
        Self(Arc::new(Inner {
            tasks,
            by_created: OnceLock::new(),
            by_title: OnceLock::new(),
        }))
    }

    /// The tasks, newest first.
    pub fn tasks(&self) -> &[Task] {
        &self.0.tasks
    }

    /// The list as the JSON array the API answers, in `order`.
    ///
    /// # Errors
    /// Only if serialisation fails, which a [`Task`] never makes it do.
    pub fn to_json(&self, order: SortOrder) -> Result<Bytes, serde_json::Error> {
        let slot = match order {
            SortOrder::Created => &self.0.by_created,
            SortOrder::Title => &self.0.by_title,
        };
        if let Some(json) = slot.get() {
            return Ok(json.clone());
        }
        let mut tasks: Vec<&Task> = self.0.tasks.iter().collect();
        order.apply(&mut tasks);
        let json = serde_json::to_vec(&tasks)?;
        // Two requests racing here render the same bytes; whichever lands first is kept.
        Ok(slot.get_or_init(|| Bytes::from(json)).clone())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::Value;

    use super::*;
    use crate::store::DbTime;

    fn task(id: &str, title: &str, minute: u32) -> Task {
        let at = DbTime::from(Utc.with_ymd_and_hms(2026, 11, 27, 12, minute, 0).unwrap());
        Task {
            id: id.to_owned(),
            user_id: "alice".to_owned(),
            title: title.to_owned(),
            description: None,
            completed: false,
            created_at: at,
            updated_at: at,
        }
    }

    fn ids(json: &Bytes) -> Vec<String> {
        let value: Value = serde_json::from_slice(json).unwrap();
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|task| task["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn json_in_created_order_is_the_tasks_as_stored() {
        let list = TaskList::newest_first(vec![task("b", "beta", 2), task("a", "Alpha", 1)]);
        let json = list.to_json(SortOrder::Created).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&json).unwrap(),
            serde_json::to_value(list.tasks()).unwrap()
        );
        assert_eq!(ids(&json), ["b", "a"]);
    }

    #[test]
    fn json_in_title_order_leaves_the_list_newest_first() {
        let list = TaskList::newest_first(vec![task("b", "beta", 2), task("a", "Alpha", 1)]);
        assert_eq!(ids(&list.to_json(SortOrder::Title).unwrap()), ["a", "b"]);
        assert_eq!(list.tasks()[0].id, "b");
        assert_eq!(ids(&list.to_json(SortOrder::Created).unwrap()), ["b", "a"]);
    }

    #[test]
    fn each_order_is_rendered_once_and_shared_by_every_clone() {
        let list = TaskList::newest_first(vec![task("a", "Alpha", 1)]);
        let first = list.to_json(SortOrder::Created).unwrap();
        let again = list.clone().to_json(SortOrder::Created).unwrap();
        // The same allocation: the second answer did not serialise anything.
        assert_eq!(first.as_ptr(), again.as_ptr());
        assert_eq!(ids(&first), ["a"]);
    }
}
