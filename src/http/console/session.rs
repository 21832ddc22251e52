//! Console sessions: a random id in a cookie, everything else (the bearer token, who it is,
//! the CSRF token) in this process's memory.
//!
//! **Contracts.**
//! - The token MUST never leave the server: the cookie carries only a random session id.
//! - A session MUST expire after [`IDLE`] without a request, and signing in MUST issue a new
//!   id (an id seen before sign-in is never the id of a signed-in session).
//! - Every POST MUST carry the session's CSRF token; [`Sessions::check_csrf`] compares it in
//!   constant time.
//! - A session MUST authorize the JSON API for reads only ([`bearer_from_session`]): GET and
//!   HEAD, never a POST.
//! - At most [`MAX_SESSIONS`] sessions are kept, so anonymous visits cannot grow memory
//!   without bound; over it, the least recently used session is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use crate::grpc::auth::Caller;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "rl_session";
/// The language cookie's name.
pub const LANG_COOKIE: &str = "rl_lang";
/// How long a session lives without a request.
pub const IDLE: Duration = Duration::from_secs(8 * 3600);
/// Most sessions kept at once.
pub const MAX_SESSIONS: usize = 10_000;

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The bearer token, sent as `authorization` metadata with every gRPC call.
    pub token: String,
    /// Who the token is, as the access file says (for the page header and home page).
    pub caller: Caller,
}

/// One session as a handler sees it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session id (the cookie's value).
    pub id: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// The caller, once signed in; `None` while only the sign-in form was shown.
    pub signed_in: Option<SignedIn>,
}

struct Stored {
    csrf: String,
    signed_in: Option<SignedIn>,
    last_seen: Instant,
}

/// The sessions of this process. A std `Mutex`: every operation is a short map access with
/// no await inside, so a tokio lock would only add cost.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Stored>>,
}

/// 32 random bytes as hex: unguessable ids and CSRF tokens.
fn random_hex() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(hex::encode(b))
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Stored>> {
        // A panic while holding the lock cannot leave the map half-changed (each operation is
        // one insert or remove), so a poisoned lock is still a good map.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live session with this id (refreshing its idle clock), if any.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.lock();
        let now = Instant::now();
        let live = map
            .get(id)
            .is_some_and(|s| now.duration_since(s.last_seen) < IDLE);
        if !live {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.last_seen = now;
        Some(Session {
            id: id.to_owned(),
            csrf: s.csrf.clone(),
            signed_in: s.signed_in.clone(),
        })
    }

    /// A new session (anonymous, or signed in), replacing `old` if given.
    pub fn create(
        &self,
        old: Option<&str>,
        signed_in: Option<SignedIn>,
    ) -> Result<Session, getrandom::Error> {
        let id = random_hex()?;
        let csrf = random_hex()?;
        let mut map = self.lock();
        if let Some(old) = old {
            map.remove(old);
        }
        let now = Instant::now();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| now.duration_since(s.last_seen) < IDLE);
        }
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Stored {
                csrf: csrf.clone(),
                signed_in: signed_in.clone(),
                last_seen: now,
            },
        );
        Ok(Session {
            id,
            csrf,
            signed_in,
        })
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Whether `presented` is the session's CSRF token (constant time in its content).
    pub fn check_csrf(session: &Session, presented: &str) -> bool {
        let a = blake3::hash(session.csrf.as_bytes());
        let b = blake3::hash(presented.as_bytes());
        // blake3::Hash equality is constant-time.
        a == b
    }
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The JSON API's door for a signed-in browser: a `GET` or `HEAD` that carries no
/// `Authorization` header but the cookie of a live, signed-in session is authorized with that
/// session's token, exactly as if the page had sent it (the token itself still never reaches
/// the browser). This is how the audit page's script reads checkpoints, entries and proofs.
///
/// Only reads: a POST (an append) still needs the header, so no form on another site can make
/// a signed-in browser write (the cookie is `SameSite=Strict` besides, and the API sends no
/// CORS headers, so another origin cannot read an answer either).
pub async fn bearer_from_session(
    State(sessions): State<Arc<Sessions>>,
    mut req: Request,
    next: Next,
) -> Response {
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    if read && !req.headers().contains_key(AUTHORIZATION) {
        let token = cookie(req.headers(), COOKIE_NAME)
            .and_then(|id| sessions.get(id))
            .and_then(|s| s.signed_in)
            .map(|w| w.token);
        // Sign-in keeps only tokens that make a header value, so this does not fail.
        if let Some(v) = token.and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok()) {
            req.headers_mut().insert(AUTHORIZATION, v);
        }
    }
    next.run(req).await
}

/// The `Set-Cookie` value that gives the browser session `id`.
pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE_NAME}={id}; HttpOnly; SameSite=Strict; Path=/")
}

/// The `Set-Cookie` value that makes the browser forget its session.
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::auth::Role;

    fn who() -> SignedIn {
        SignedIn {
            token: "t".into(),
            caller: Caller {
                name: "n".into(),
                role: Role::Admin,
                schools: vec![],
                teacher: None,
                door: "console",
            },
        }
    }

    #[test]
    fn sign_in_replaces_the_id_and_csrf_is_checked() {
        let s = Sessions::default();
        let anon = s.create(None, None).unwrap();
        assert!(s.get(&anon.id).is_some());
        let signed = s.create(Some(&anon.id), Some(who())).unwrap();
        assert_ne!(anon.id, signed.id);
        assert!(s.get(&anon.id).is_none(), "the pre-sign-in id must be dead");
        let got = s.get(&signed.id).unwrap();
        assert!(Sessions::check_csrf(&got, &signed.csrf));
        assert!(!Sessions::check_csrf(&got, &anon.csrf));
        assert!(!Sessions::check_csrf(&got, ""));
        s.remove(&signed.id);
        assert!(s.get(&signed.id).is_none());
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "a=1; rl_session=abc; rl_lang=en".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE_NAME), Some("abc"));
        assert_eq!(cookie(&h, LANG_COOKIE), Some("en"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
