//! Real servers the delivery tests talk to: an SMTP server (Python's aiosmtpd, as a child
//! process), an HTTP SMS/voice or push provider and a CAPTCHA provider's siteverify endpoint
//! (axum, in-process).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

/// An SMTP server writing every message it accepts to a Maildir.
#[derive(Debug)]
pub(crate) struct SmtpServer {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: Child,
}

impl SmtpServer {
    /// Starts aiosmtpd on a free loopback port; fails loudly if it cannot.
    pub(crate) async fn start() -> Self {
        let port = free_port();
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            // A path that does not exist yet, so the Maildir creates its new/cur/tmp folders.
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start python3 -m aiosmtpd ({error}); install it: python3 -m pip install aiosmtpd"));
        // Owned by `server` from here on, so its Drop kills and reaps the child on every path.
        let server = Self {
            port,
            maildir,
            child,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(server);
        panic!(
            "aiosmtpd did not listen on 127.0.0.1:{port}; is it installed? python3 -m pip install aiosmtpd"
        );
    }

    /// The raw messages received so far.
    pub(crate) fn messages(&self) -> Vec<String> {
        let new: PathBuf = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
            .collect()
    }

    /// Waits for at least one message and returns them all.
    pub(crate) async fn wait_for_messages(&self) -> Vec<String> {
        for _ in 0..450 {
            let messages = self.messages();
            if !messages.is_empty() {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the SMTP server received no message within 45 s");
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the fake provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProviderBehavior {
    /// Accepts everything; a repeated idempotency key is not sent again.
    Accept,
    /// Sends a new message but answers 500 (the answer is "lost"); a retry with the same key is
    /// recognized and answered 200 without sending again.
    FailOnceAfterAccepting,
    /// Answers 503 to everything.
    AlwaysFail,
}

/// One request the provider received.
#[derive(Debug, Clone)]
pub(crate) struct ProviderRequest {
    pub body: Value,
    pub idempotency_key: String,
    pub authorization: Option<String>,
}

#[derive(Debug)]
struct ProviderState {
    behavior: ProviderBehavior,
    requests: Vec<ProviderRequest>,
    sent_keys: HashSet<String>,
}

/// An HTTP provider that records what it receives and what it "sent": SMS and voice calls,
/// or pushes (any JSON body, told apart by its idempotency key).
#[derive(Debug, Clone)]
pub(crate) struct SmsProvider {
    pub url: String,
    state: Arc<Mutex<ProviderState>>,
}

impl SmsProvider {
    /// Serves on a free loopback port until the test ends.
    pub(crate) async fn start(behavior: ProviderBehavior) -> Self {
        let state = Arc::new(Mutex::new(ProviderState {
            behavior,
            requests: Vec::new(),
            sent_keys: HashSet::new(),
        }));
        let app = axum::Router::new()
            .route("/messages", post(receive))
            .with_state(Arc::clone(&state));
        let url = format!("{}/messages", serve(app).await);
        Self { url, state }
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<ProviderRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many distinct messages were actually sent to phones.
    pub(crate) fn sent_count(&self) -> usize {
        self.state.lock().unwrap().sent_keys.len()
    }

    /// Waits until requests for `destination` number at least `count`.
    pub(crate) async fn wait_for(&self, destination: &str, count: usize) -> Vec<ProviderRequest> {
        self.wait_until(count, destination, |request| {
            request.body["destination"] == destination
        })
        .await
    }

    /// Waits until at least `count` requests match; `what` names them if they never come.
    pub(crate) async fn wait_until(
        &self,
        count: usize,
        what: &str,
        matches: impl Fn(&ProviderRequest) -> bool,
    ) -> Vec<ProviderRequest> {
        for _ in 0..450 {
            let matching: Vec<ProviderRequest> =
                self.requests().into_iter().filter(&matches).collect();
            if matching.len() >= count {
                return matching;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the provider did not get {count} request(s) for {what} within 45 s; got {:?}",
            self.requests()
        );
    }
}

async fn receive(
    State(state): State<Arc<Mutex<ProviderState>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let idempotency_key = header("idempotency-key").unwrap_or_default();
    let mut state = state.lock().unwrap();
    state.requests.push(ProviderRequest {
        body,
        idempotency_key: idempotency_key.clone(),
        authorization: header("authorization"),
    });
    match state.behavior {
        ProviderBehavior::AlwaysFail => StatusCode::SERVICE_UNAVAILABLE,
        ProviderBehavior::Accept => {
            state.sent_keys.insert(idempotency_key);
            StatusCode::OK
        }
        ProviderBehavior::FailOnceAfterAccepting => {
            if state.sent_keys.insert(idempotency_key) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }
    }
}

/// The forms a siteverify stub received, as field → value.
type ReceivedForms = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A CAPTCHA provider's siteverify endpoint (the shape hCaptcha, Turnstile and reCAPTCHA
/// share) that vouches for one token and records the forms it receives.
#[derive(Debug, Clone)]
pub(crate) struct SiteVerifyStub {
    pub url: String,
    forms: ReceivedForms,
}

/// The one token the stub calls good.
pub(crate) const GOOD_CAPTCHA_TOKEN: &str = "stub-good-token";

impl SiteVerifyStub {
    /// Serves on a free loopback port until the test ends.
    pub(crate) async fn start() -> Self {
        let forms = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/siteverify", post(site_verify))
            .with_state(Arc::clone(&forms));
        let url = format!("{}/siteverify", serve(app).await);
        Self { url, forms }
    }

    /// Every form received so far.
    pub(crate) fn forms(&self) -> Vec<HashMap<String, String>> {
        self.forms.lock().unwrap().clone()
    }
}

async fn site_verify(
    State(forms): State<ReceivedForms>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    let good = form.get("response").map(String::as_str) == Some(GOOD_CAPTCHA_TOKEN);
    forms.lock().unwrap().push(form);
    Json(if good {
        serde_json::json!({ "success": true, "hostname": "localhost" })
    } else {
        serde_json::json!({ "success": false, "error-codes": ["invalid-input-response"] })
    })
}

/// Serves `app` on a free loopback port until the test ends; its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A loopback port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
