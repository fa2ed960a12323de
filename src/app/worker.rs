//! The reference app's worker: takes accepted deliveries off a queue, one
//! at a time and in arrival order, lets the [`Bot`] decide, and makes the
//! Graph calls. The webhook handler only queues (`webhook.rs`), so a
//! delivery is answered in microseconds whatever the reaction costs
//! (APP-1), and reactions never overlap, so every decision sees the answers
//! to the calls before it.

use super::bot::{Answer, Bot, Call};
use super::event::Incoming;
use super::graph::GraphClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Notify, mpsc};

/// Where log lines go (`baton app` prints them; in-process runs drop them).
pub type Log = Arc<dyn Fn(String) + Send + Sync>;

/// How many queued deliveries are not yet reacted to.
#[derive(Default)]
struct Busy {
    count: AtomicUsize,
    settled: Notify,
}

impl Busy {
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.settled.notify_waiters();
        }
    }
}

/// The queue between the webhook handler and the worker.
#[derive(Clone)]
pub struct Queue {
    tx: mpsc::UnboundedSender<Vec<Incoming>>,
    busy: Arc<Busy>,
}

impl Queue {
    /// Hands one delivery's events to the worker.
    pub fn push(&self, events: Vec<Incoming>) {
        self.busy.count.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(events).is_err() {
            self.busy.done();
        }
    }

    /// Waits until every queued delivery has been reacted to.
    pub async fn settled(&self) {
        loop {
            let notified = self.busy.settled.notified();
            if self.busy.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Starts the worker; it ends when every [`Queue`] is dropped.
pub fn start(
    mut bot: Bot,
    graph: GraphClient,
    log: Option<Log>,
) -> (Queue, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<Incoming>>();
    let queue = Queue {
        tx,
        busy: Arc::new(Busy::default()),
    };
    let busy = queue.busy.clone();
    let say = move |line: String| {
        if let Some(l) = &log {
            l(line);
        }
    };
    let task = tokio::spawn(async move {
        while let Some(events) = rx.recv().await {
            for psid in bot.turn(&events) {
                while let Some(call) = bot.next_call(&psid) {
                    let (rendered, answer) = graph.call(&call, &psid).await;
                    say(format!(
                        "psid {psid}: {} {} -> {}",
                        rendered.method,
                        rendered.path,
                        match &answer {
                            Answer::Ok(_) => "ok".to_string(),
                            Answer::Failed(why) => why.clone(),
                        }
                    ));
                    bot.answered(&psid, &call, &answer);
                    if let (Call::ThreadOwner, Answer::Ok(body)) = (&call, &answer) {
                        say(format!("psid {psid}: thread_owner says {body}"));
                    }
                }
            }
            busy.done();
        }
    });
    (queue, task)
}
