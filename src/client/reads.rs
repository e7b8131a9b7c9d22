//! The reads: a `GET` with the bearer token through the pooled reqwest client, and its
//! answer as JSON.

use serde_json::Value;

use super::{Client, clip, describe, location, redirect_text};

impl Client {
    /// [`Client::get_json`] of a list the target may not have: `None` when it answers
    /// 404 (Conducttr lists no positions or roles; the stand-in does).
    pub async fn get_optional_json(&self, path: &str) -> Result<Option<Value>, String> {
        match self.get(path).await? {
            (status, ..) if status == reqwest::StatusCode::NOT_FOUND => Ok(None),
            answer => Self::json_of(path, answer).map(Some),
        }
    }

    /// `GET` `path`: its status, where it redirects, and its text (the token redacted).
    async fn get(
        &self,
        path: &str,
    ) -> Result<(reqwest::StatusCode, Option<String>, String), String> {
        let resp = self
            .http
            .get(self.target.url(path))
            .bearer_auth(self.target.token())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status();
        let location = location(&resp).map(|l| self.target.redact(&l));
        let text = resp.text().await.map_err(|e| describe(&e))?;
        Ok((status, location, self.target.redact(&text)))
    }

    /// A `GET`'s answer as JSON, or what was wrong with it.
    fn json_of(
        path: &str,
        (status, location, text): (reqwest::StatusCode, Option<String>, String),
    ) -> Result<Value, String> {
        if status.is_redirection() {
            return Err(format!(
                "GET {path} answered {status}, {}",
                redirect_text(location.as_deref())
            ));
        }
        if !status.is_success() {
            return Err(format!("GET {path} answered {status}: {}", clip(&text)));
        }
        serde_json::from_str(&text)
            .map_err(|e| format!("GET {path} answered with invalid JSON ({e})"))
    }

    /// A GET with the bearer token; the JSON answer.
    pub async fn get_json(&self, path: &str) -> Result<Value, String> {
        Self::json_of(path, self.get(path).await?)
    }
}
