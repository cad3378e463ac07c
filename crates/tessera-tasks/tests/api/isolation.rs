//! Property: under any interleaving of operations by two users — including attempts on each
//! other's task ids and paths — neither ever sees or changes the other's tasks. The API is
//! checked against a model after every step, on both backends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, send};

/// A task reference: the `pick`-th task `owner` ever created (deleted ones included, so stale
/// ids are tried too), or a made-up id if they have none.
#[derive(Debug, Clone)]
struct Target {
    owner: usize,
    pick: usize,
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        actor: usize,
        title: String,
    },
    List {
        actor: usize,
        status: &'static str,
    },
    Get {
        actor: usize,
        target: Target,
    },
    Put {
        actor: usize,
        target: Target,
        title: String,
        completed: Option<bool>,
    },
    Toggle {
        actor: usize,
        target: Target,
    },
    Delete {
        actor: usize,
        target: Target,
    },
    /// The actor's token on the other user's path.
    ForeignPath {
        actor: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let actor = 0..2usize;
    let target = (0..2usize, 0..6usize).prop_map(|(owner, pick)| Target { owner, pick });
    let title = "[a-z][a-z ]{0,10}[a-z]";
    prop_oneof![
        3 => (actor.clone(), title).prop_map(|(actor, title)| Op::Create { actor, title }),
        1 => (actor.clone(), prop::sample::select(vec!["all", "pending", "completed"]))
            .prop_map(|(actor, status)| Op::List { actor, status }),
        2 => (actor.clone(), target.clone()).prop_map(|(actor, target)| Op::Get { actor, target }),
        2 => (actor.clone(), target.clone(), title, proptest::option::of(any::<bool>()))
            .prop_map(|(actor, target, title, completed)| Op::Put { actor, target, title, completed }),
        2 => (actor.clone(), target.clone()).prop_map(|(actor, target)| Op::Toggle { actor, target }),
        2 => (actor.clone(), target).prop_map(|(actor, target)| Op::Delete { actor, target }),
        1 => actor.prop_map(|actor| Op::ForeignPath { actor }),
    ]
}

/// What the model knows of one task.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    title: String,
    completed: bool,
    alive: bool,
}

/// Every task each user ever created, by id, in creation order.
struct World {
    users: [String; 2],
    tasks: [Vec<(String, Model)>; 2],
}

impl World {
    fn resolve(&self, target: &Target) -> String {
        let owned = &self.tasks[target.owner];
        if owned.is_empty() {
            return "00000000-0000-4000-8000-000000000000".into();
        }
        owned[target.pick % owned.len()].0.clone()
    }

    /// The model task `id` of `actor`, if it is theirs and alive.
    fn own_alive(&mut self, actor: usize, id: &str) -> Option<&mut Model> {
        self.tasks[actor]
            .iter_mut()
            .find(|(i, m)| i == id && m.alive)
            .map(|(_, m)| m)
    }

    fn visible(&self, actor: usize, status: &str) -> BTreeMap<String, (String, bool)> {
        self.tasks[actor]
            .iter()
            .filter(|(_, m)| m.alive)
            .filter(|(_, m)| match status {
                "pending" => !m.completed,
                "completed" => m.completed,
                _ => true,
            })
            .map(|(id, m)| (id.clone(), (m.title.clone(), m.completed)))
            .collect()
    }
}

/// The API's list for `user`, as id → (title, completed).
async fn listed(app: &TestApp, user: &str, status: &str) -> BTreeMap<String, (String, bool)> {
    let reply = app.list_tasks(user, &format!("status={status}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(
                t["user_id"], user,
                "a listed task belongs to someone else: {t}"
            );
            (
                t["id"].as_str().unwrap().to_owned(),
                (
                    t["title"].as_str().unwrap().to_owned(),
                    t["completed"].as_bool().unwrap(),
                ),
            )
        })
        .collect()
}

async fn run(app: &TestApp, ops: Vec<Op>) {
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let case = CASE.fetch_add(1, Ordering::SeqCst);
    let mut world = World {
        users: [format!("prop-{case}-a"), format!("prop-{case}-b")],
        tasks: [Vec::new(), Vec::new()],
    };
    for op in ops {
        match op {
            Op::Create { actor, title } => {
                let task = app.create_task(&world.users[actor], &title).await;
                assert_eq!(task["user_id"], world.users[actor].as_str());
                let model = Model {
                    title,
                    completed: false,
                    alive: true,
                };
                world.tasks[actor].push((task["id"].as_str().unwrap().to_owned(), model));
            }
            Op::List { actor, status } => {
                assert_eq!(
                    listed(app, &world.users[actor], status).await,
                    world.visible(actor, status)
                );
            }
            Op::Get { actor, target } => {
                let id = world.resolve(&target);
                let reply = app.get_task(&world.users[actor], &id).await;
                match world.own_alive(actor, &id) {
                    Some(model) => {
                        assert_eq!(reply.status, StatusCode::OK);
                        assert_eq!(reply.body["title"], model.title.as_str());
                        assert_eq!(reply.body["completed"], model.completed);
                    }
                    None => assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}"),
                }
            }
            Op::Put {
                actor,
                target,
                title,
                completed,
            } => {
                let id = world.resolve(&target);
                let mut body = json!({ "title": title });
                if let Some(done) = completed {
                    body["completed"] = json!(done);
                }
                let reply = app.put_task(&world.users[actor], &id, body).await;
                match world.own_alive(actor, &id) {
                    Some(model) => {
                        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
                        model.title = title;
                        model.completed = completed.unwrap_or(model.completed);
                    }
                    None => assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}"),
                }
            }
            Op::Toggle { actor, target } => {
                let id = world.resolve(&target);
                let reply = app.toggle_task(&world.users[actor], &id).await;
                match world.own_alive(actor, &id) {
                    Some(model) => {
                        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
                        model.completed = !model.completed;
                    }
                    None => assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}"),
                }
            }
            Op::Delete { actor, target } => {
                let id = world.resolve(&target);
                let reply = app.delete_task(&world.users[actor], &id).await;
                match world.own_alive(actor, &id) {
                    Some(model) => {
                        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
                        model.alive = false;
                    }
                    None => assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}"),
                }
            }
            Op::ForeignPath { actor } => {
                let other = &world.users[1 - actor];
                let reply = send(app.request(
                    Method::GET,
                    &format!("/api/{other}/tasks"),
                    &world.users[actor],
                ))
                .await;
                assert_eq!(reply.status, StatusCode::FORBIDDEN);
            }
        }
        // The invariant, after every step: each user sees exactly their own tasks, as the model
        // says — nothing of the other's, nothing changed by the other.
        for user in 0..2 {
            assert_eq!(
                listed(app, &world.users[user], "all").await,
                world.visible(user, "all")
            );
        }
    }
}

fn check(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(TestApp::spawn(backend));
    let config = Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&prop::collection::vec(op(), 1..16), |ops| {
        runtime.block_on(run(&app, ops));
        Ok(())
    });
    drop(app);
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn two_users_never_see_or_change_each_others_tasks_on_sqlite() {
    check(Backend::Sqlite);
}

#[test]
fn two_users_never_see_or_change_each_others_tasks_on_postgres() {
    check(Backend::Postgres);
}
