//! A headless Chromium for the integration tests, driven over the W3C
//! WebDriver protocol: Debian's `chromium` and `chromium-driver` packages
//! (`make browser` installs them; `make test` depends on it).
//!
//! Include it with `mod browser;`. Every call is blocking HTTP (ureq) to a
//! chromedriver on loopback, and any WebDriver error panics with its message:
//! this is test support. Async tests call it directly, on a multi-thread
//! runtime with a spare worker so the server under test keeps answering on
//! the other: `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]`.
//!
//! Each [`Browser`] is its own chromedriver and Chromium with a fresh profile,
//! laid out as a phone: a 420x900 CSS-pixel viewport that honours
//! `<meta name="viewport">`. Touch is not emulated: with it a click no longer
//! waits for the navigation it starts. Background networking is off, since
//! on a closed network those connections are refused and the browser should
//! only ever talk to the server under test.

#![allow(dead_code)] // each test target uses a different subset

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One chromedriver with one browser session; dropping it ends both.
pub struct Browser {
    driver: Child,
    agent: ureq::Agent,
    /// `http://127.0.0.1:PORT`, then `http://127.0.0.1:PORT/session/ID`.
    session: String,
    profile: PathBuf,
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
    /// The selector that found it, for panic messages.
    css: String,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session.
    pub fn start() -> Browser {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(Path::new(path).exists(), "no {path}; run `make browser`");
        }
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let profile = std::env::temp_dir().join(format!("pastdue-chromium-{pid}-{seq}"));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false) // WebDriver errors carry their message in the body
            .proxy(None) // loopback only, whatever the environment says
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let (driver, base) = spawn_driver(&agent);
        // From here on Drop ends the driver and removes the profile on a panic.
        let mut browser = Browser {
            driver,
            agent,
            session: base,
            profile,
        };
        let _ = std::fs::remove_dir_all(&browser.profile);
        std::fs::create_dir_all(&browser.profile).expect("a temporary Chromium profile");

        let profile_arg = format!("--user-data-dir={}", browser.profile.display());
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            &profile_arg,
            "--window-size=420,900",
        ];
        // --window-size alone gives a 500 px wide viewport (Chromium's
        // narrowest window): the device metrics make it exactly a phone's.
        let phone =
            json!({"width": 420, "height": 900, "pixelRatio": 1, "mobile": true, "touch": false});
        let options =
            json!({"binary": CHROMIUM, "args": args, "mobileEmulation": {"deviceMetrics": phone}});
        let capabilities = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "timeouts": {"pageLoad": 30_000, "script": 30_000}, "goog:chromeOptions": options}}});
        let id = string(browser.post("/session", capabilities)["sessionId"].take());
        browser.session = format!("{}/session/{id}", browser.session);
        browser
    }

    /// Sends one WebDriver command (a POST with a body, else a GET) to
    /// `{session}{path}` and returns the answer's `value`; panics with the
    /// driver's error message.
    fn command(&self, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        let (method, sent) = match body {
            None => ("GET", self.agent.get(&url).call()),
            Some(body) => ("POST", self.agent.post(&url).send_json(body)),
        };
        let mut response = sent.unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
        let status = response.status();
        let read = response.body_mut().read_json::<Value>();
        let mut answer = read.unwrap_or_else(|e| panic!("WebDriver {method} {url}: {status}: {e}"));
        let value = answer["value"].take();
        let (error, message) = (&value["error"], &value["message"]);
        assert!(
            status.is_success(),
            "WebDriver {method} {url}: {error} - {message}"
        );
        value
    }

    fn get(&self, path: &str) -> Value {
        self.command(path, None)
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.command(path, Some(body))
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
    }

    pub fn current_url(&self) -> String {
        string(self.get("/url"))
    }

    pub fn title(&self) -> String {
        string(self.get("/title"))
    }

    /// The current page's HTML, as the browser serializes its DOM.
    pub fn source(&self) -> String {
        string(self.get("/source"))
    }

    /// The first element matching `css`; panics naming the selector if none does.
    pub fn find(&self, css: &str) -> Element<'_> {
        let first = self.find_all(css).into_iter().next();
        first.unwrap_or_else(|| panic!("no element matches {css:?} on {}", self.current_url()))
    }

    /// Every element matching `css`, in document order (maybe none).
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        self.elements("", css)
    }

    /// The elements matching `css` under `scope` (`""` or `/element/ID`).
    fn elements(&self, scope: &str, css: &str) -> Vec<Element<'_>> {
        let query = json!({"using": "css selector", "value": css});
        let found = self
            .post(&format!("{scope}/elements"), query)
            .as_array()
            .cloned();
        let element = |e: Value| Element {
            browser: self,
            id: string(e[ELEMENT_KEY].clone()),
            css: css.to_owned(),
        };
        found.unwrap_or_default().into_iter().map(element).collect()
    }

    /// Writes a PNG of the viewport to `path` (creating its directory).
    pub fn screenshot_png(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let png = STANDARD
            .decode(string(self.get("/screenshot")))
            .expect("base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the screenshot's directory");
        }
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// Runs `script` (a function body: `return ...`) in the page with `args`.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
    }

    /// Sets the viewport to `width` x `height` CSS pixels, still as a phone
    /// (the window's size does not change the emulated viewport).
    pub fn set_viewport(&self, width: u32, height: u32) {
        let params =
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": true});
        let cdp = json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": params});
        self.post("/goog/cdp/execute", cdp);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.session.contains("/session/") {
            let _ = self.agent.delete(&self.session).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Element<'_> {
    fn get(&self, command: &str) -> Value {
        self.browser.get(&format!("/element/{}/{command}", self.id))
    }

    fn post(&self, command: &str, body: Value) -> Value {
        self.browser
            .post(&format!("/element/{}/{command}", self.id), body)
    }

    /// Clicks it. A page it loads may still be on its way: see
    /// [`Element::click_and_wait`].
    pub fn click(&self) {
        self.post("click", json!({}));
    }

    /// Clicks something that loads a new page (a link, a submit button) and
    /// waits up to 10 s for that page to load. Chromium's own wait after a
    /// click misses form submissions about half the time.
    pub fn click_and_wait(&self) {
        let browser = self.browser;
        browser.execute("window.pastdueOldPage = true", json!([]));
        self.click();
        let deadline = Instant::now() + Duration::from_secs(10);
        let loaded = "return !window.pastdueOldPage && document.readyState === 'complete'";
        while browser.execute(loaded, json!([])) != true {
            let css = &self.css;
            assert!(
                Instant::now() < deadline,
                "no new page 10 s after clicking {css:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `text` into it, after what is there.
    pub fn send_keys(&self, text: &str) {
        self.post("value", json!({ "text": text }));
    }

    /// Its rendered, visible text.
    pub fn text(&self) -> String {
        string(self.get("text"))
    }

    /// An attribute as the HTML has it, or `None` when it is absent.
    pub fn attribute(&self, name: &str) -> Option<String> {
        self.get(&format!("attribute/{name}"))
            .as_str()
            .map(str::to_owned)
    }

    /// A DOM property, e.g. an input's `value` as the user left it.
    pub fn property(&self, name: &str) -> Value {
        self.get(&format!("property/{name}"))
    }

    /// The first descendant matching `css`; panics naming both selectors if none does.
    pub fn find(&self, css: &str) -> Element<'_> {
        let scope = format!("/element/{}", self.id);
        let first = self.browser.elements(&scope, css).into_iter().next();
        first.unwrap_or_else(|| panic!("no element matches {css:?} inside {:?}", self.css))
    }

    /// On a `<select>`: picks the `<option>` whose value is `value`.
    pub fn select(&self, value: &str) {
        self.find(&format!("option[value=\"{value}\"]")).click();
    }
}

/// Starts chromedriver on a free port and waits until it is ready. It also
/// listens on `[::1]` and exits when that port is taken (or when another
/// process grabs the port first), so it gets a few tries.
fn spawn_driver(agent: &ureq::Agent) -> (Child, String) {
    for _ in 0..5 {
        let free = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
        let port = free.expect("a free loopback port").port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while driver.try_wait().is_ok_and(|exit| exit.is_none()) {
            let status = agent.get(format!("{base}/status")).call().ok();
            let status = status.and_then(|mut r| r.body_mut().read_json::<Value>().ok());
            if status.is_some_and(|s| s["value"]["ready"] == true) {
                return (driver, base);
            }
            if Instant::now() > deadline {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("{CHROMEDRIVER} not ready on port {port} after 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("{CHROMEDRIVER} exited at start five times (ports taken?)")
}

fn string(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => panic!("WebDriver answered {other}, not a string"),
    }
}
