//! A headless browser driven over WebDriver — Debian's Chromium with chromium-driver, or
//! Firefox ESR with geckodriver — for the console's browser tests. Each [`Browser`] starts its
//! own driver on a free loopback port and one session with a fresh profile in a temporary
//! folder, at 1366×768; both end when it is dropped.
//!
//! Only what the tests use is here: open a page, find elements by CSS selector, click, type,
//! read text, the page's source and URL, cookies, screenshots.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The key of an element reference in WebDriver's answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser the tests drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Debian's `chromium` through `chromium-driver` (`HUIFANG_CHROMIUM`,
    /// `HUIFANG_CHROMEDRIVER` override where they are).
    Chromium,
    /// Debian's `firefox-esr` through `geckodriver` (`HUIFANG_FIREFOX`, `HUIFANG_GECKODRIVER`
    /// override where they are; geckodriver is looked for on the `PATH`, then in Cargo's
    /// `bin` folder, where `cargo install geckodriver` puts it).
    Firefox,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
        }
    }

    fn browser(self) -> String {
        match self {
            Engine::Chromium => {
                std::env::var("HUIFANG_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
            }
            Engine::Firefox => {
                std::env::var("HUIFANG_FIREFOX").unwrap_or_else(|_| "/usr/bin/firefox-esr".into())
            }
        }
    }

    fn driver(self) -> String {
        match self {
            Engine::Chromium => std::env::var("HUIFANG_CHROMEDRIVER")
                .unwrap_or_else(|_| "/usr/bin/chromedriver".into()),
            Engine::Firefox => std::env::var("HUIFANG_GECKODRIVER").unwrap_or_else(|_| {
                let on_path = std::env::var_os("PATH").and_then(|paths| {
                    std::env::split_paths(&paths)
                        .map(|p| p.join("geckodriver"))
                        .find(|p| p.is_file())
                });
                let cargo_bin = std::env::var_os("CARGO_HOME")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
                    .map(|c| c.join("bin/geckodriver"));
                on_path
                    .or(cargo_bin)
                    .map_or_else(|| "geckodriver".into(), |p| p.display().to_string())
            }),
        }
    }

    fn driver_args(self, port: u16) -> Vec<String> {
        match self {
            Engine::Chromium => vec![format!("--port={port}"), "--allowed-ips=127.0.0.1".into()],
            Engine::Firefox => vec![
                "--port".into(),
                port.to_string(),
                "--host".into(),
                "127.0.0.1".into(),
            ],
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Engine::Chromium => "install chromium and chromium-driver",
            Engine::Firefox => {
                "install firefox-esr, and geckodriver with `cargo install geckodriver`"
            }
        }
    }

    /// The new session's capabilities: headless, a fresh profile, Chinese first.
    fn capabilities(self, profile: &Path) -> Value {
        match self {
            Engine::Chromium => json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": self.browser(),
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1366,768",
                        "--no-first-run", "--no-default-browser-check",
                        "--disable-background-networking", "--disable-sync",
                        "--lang=zh-CN",
                        format!("--user-data-dir={}", profile.display()),
                    ]
                }
            }),
            // geckodriver makes a fresh profile of its own for each session
            Engine::Firefox => json!({
                "browserName": "firefox",
                "moz:firefoxOptions": {
                    "binary": self.browser(),
                    "args": ["-headless", "--width=1366", "--height=768"],
                    "prefs": {
                        "intl.accept_languages": "zh-CN",
                        "app.update.enabled": false,
                        "browser.shell.checkDefaultBrowser": false,
                        "datareporting.policy.dataSubmissionEnabled": false,
                        "network.captive-portal-service.enabled": false
                    }
                }
            }),
        }
    }
}

/// A browser session; the driver process and the profile go when it is dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

/// A failure of the browser or the driver, with what was asked.
pub type Result<T> = std::result::Result<T, String>;

impl Browser {
    /// Starts the engine's driver and a headless browser (fresh profile, loopback only,
    /// 1366×768).
    pub async fn start(engine: Engine) -> Result<Browser> {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            probe.local_addr().map_err(|e| e.to_string())?.port()
        };
        // a process group of its own: the browser the driver starts goes with it
        let driver = Command::new(engine.driver())
            .args(engine.driver_args(port))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {}: {e} ({})",
                    engine.driver(),
                    engine.install_hint()
                )
            })?;
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            http,
            _profile: profile,
        };
        let started = Instant::now();
        loop {
            let ready = browser
                .call("GET", "/status", None)
                .await
                .is_ok_and(|v| v["ready"] == json!(true));
            if ready {
                break;
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err(format!("{} did not become ready in 20 s", engine.driver()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({
            "capabilities": {"alwaysMatch": engine.capabilities(browser._profile.path())}
        });
        let answer = browser.call("POST", "/session", Some(caps)).await?;
        browser.session = answer["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {answer}"))?
            .to_string();
        if engine == Engine::Firefox {
            browser
                .call(
                    "POST",
                    &browser.at("/window/rect"),
                    Some(json!({"width": 1366, "height": 768})),
                )
                .await?;
        }
        Ok(browser)
    }

    /// A WebDriver command; its `value`, or the driver's error.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url),
        };
        let req = match body {
            Some(b) => req
                .header("Content-Type", "application/json")
                .body(b.to_string()),
            None => req,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}: {text}"))?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}: {}", v["value"]));
        }
        Ok(v["value"].clone())
    }

    fn at(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens a URL and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.call("POST", &self.at("/url"), Some(json!({"url": url})))
            .await
            .map(|_| ())
    }

    /// The page's URL.
    pub async fn url(&self) -> Result<String> {
        let v = self.call("GET", &self.at("/url"), None).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The page's HTML as the browser holds it.
    pub async fn source(&self) -> Result<String> {
        let v = self.call("GET", &self.at("/source"), None).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The elements matching a CSS selector (none: empty).
    pub async fn all(&self, css: &str) -> Result<Vec<Element<'_>>> {
        let v = self
            .call(
                "POST",
                &self.at("/elements"),
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str())
                    .map(|id| Element {
                        browser: self,
                        id: id.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The first element matching a CSS selector; an error naming it when there is none.
    pub async fn find(&self, css: &str) -> Result<Element<'_>> {
        let v = self
            .call(
                "POST",
                &self.at("/element"),
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .map_err(|e| format!("no element {css:?} on {}: {e}", self.base))?;
        let id = v[ELEMENT]
            .as_str()
            .ok_or_else(|| format!("no element {css:?}"))?;
        Ok(Element {
            browser: self,
            id: id.to_string(),
        })
    }

    /// The text of the first element matching a selector.
    pub async fn text(&self, css: &str) -> Result<String> {
        self.find(css).await?.text().await
    }

    /// Types into a field (emptied first).
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let e = self.find(css).await?;
        e.clear().await?;
        e.send(text).await
    }

    /// Chooses the option of a select by its value.
    pub async fn choose(&self, select_css: &str, value: &str) -> Result<()> {
        self.find(&format!("{select_css} option[value=\"{value}\"]"))
            .await?
            .click()
            .await
    }

    /// Clicks the first element matching a selector (a button submits its form and the page
    /// that answers is loaded before this returns).
    pub async fn click(&self, css: &str) -> Result<()> {
        self.find(css).await?.click().await
    }

    /// Clicks a button or link that loads a page (a form's submit), and waits until the new
    /// page has replaced the old one (at most 20 s).
    pub async fn submit(&self, css: &str) -> Result<()> {
        let old = self.find("html").await?;
        self.find(css).await?.click().await?;
        let started = Instant::now();
        loop {
            match self.call("GET", &old.at("/name"), None).await {
                // the old page is gone (Chromium says so in one of these ways while it changes)
                Err(e)
                    if e.contains("stale element")
                        || e.contains("does not belong to the document")
                        || e.contains("no such element") =>
                {
                    break;
                }
                Err(e) => return Err(e),
                Ok(_) if started.elapsed() > Duration::from_secs(20) => {
                    return Err(format!("clicking {css:?} loaded no page in 20 s"));
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        // the new document is there; wait for it to be complete
        loop {
            if self.find("body").await.is_ok() {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(20) {
                return Err(format!("the page after {css:?} did not load in 20 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The value of a cookie of the page's site.
    pub async fn cookie(&self, name: &str) -> Result<Option<Value>> {
        match self
            .call("GET", &self.at(&format!("/cookie/{name}")), None)
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.contains("no such cookie") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Saves a PNG of the viewport to `path` (its folder made).
    pub async fn screenshot(&self, path: &Path) -> Result<PathBuf> {
        let v = self.call("GET", &self.at("/screenshot"), None).await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, png).map_err(|e| e.to_string())?;
        Ok(path.to_path_buf())
    }
}

impl Drop for Browser {
    /// Ends the driver and every process it started (the browser and its helpers).
    fn drop(&mut self) {
        // the driver leads a process group of its own (see `start`): never 0 or 1
        if let Ok(pid) = i32::try_from(self.driver.id())
            && pid > 1
        {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// An element of the page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    fn at(&self, rest: &str) -> String {
        self.browser.at(&format!("/element/{}{rest}", self.id))
    }

    pub async fn click(&self) -> Result<()> {
        self.browser
            .call("POST", &self.at("/click"), Some(json!({})))
            .await
            .map(|_| ())
    }

    pub async fn clear(&self) -> Result<()> {
        self.browser
            .call("POST", &self.at("/clear"), Some(json!({})))
            .await
            .map(|_| ())
    }

    pub async fn send(&self, text: &str) -> Result<()> {
        self.browser
            .call("POST", &self.at("/value"), Some(json!({"text": text})))
            .await
            .map(|_| ())
    }

    pub async fn text(&self) -> Result<String> {
        let v = self.browser.call("GET", &self.at("/text"), None).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub async fn attribute(&self, name: &str) -> Result<Option<String>> {
        let v = self
            .browser
            .call("GET", &self.at(&format!("/attribute/{name}")), None)
            .await?;
        Ok(v.as_str().map(str::to_string))
    }
}
