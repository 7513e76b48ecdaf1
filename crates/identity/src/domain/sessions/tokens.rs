//! Session tokens: short-lived signed access tokens and opaque, rotating refresh tokens.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use hmac::{Hmac, Mac};
use mi_contracts::{MiId, UnixMillis};
use mi_platform::auth::{ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER, AccessClaims};
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::{PublicKey, TokenSigner};
use sha2::{Digest, Sha256};

use super::NewSession;
use crate::domain::{DeviceInfo, Session};

/// Tokens handed to a client for one session.
#[derive(Clone)]
pub struct IssuedTokens {
    /// The signed access token.
    pub access_token: String,
    /// When the access token expires.
    pub access_expires_at: UnixMillis,
    /// The opaque refresh token.
    pub refresh_token: String,
    /// When the refresh token expires.
    pub refresh_expires_at: UnixMillis,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IssuedTokens")
            .field("access_expires_at", &self.access_expires_at)
            .finish_non_exhaustive()
    }
}

/// A session with its fresh tokens.
#[derive(Debug, Clone)]
pub struct SessionTokens {
    /// The session.
    pub session: Session,
    /// Its tokens.
    pub tokens: IssuedTokens,
}

/// A new refresh token and the hash that is stored instead of it.
#[derive(Clone)]
pub struct RefreshToken {
    /// `{session_id}.{secret}`, given to the client once.
    pub token: String,
    /// Hex SHA-256 of the token.
    pub hash: String,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RefreshToken(..)")
    }
}

impl RefreshToken {
    /// A fresh token for a session.
    pub fn generate(session_id: &str) -> Self {
        let secret: [u8; 32] = rand::random();
        Self::with_secret(session_id, &secret)
    }

    /// The one token that replaces `presented` when it is traded in: a keyed hash of it, so
    /// two refreshes racing with one token get the same successor (see `Sessions::refresh`),
    /// and nobody without `key` can tell what it is.
    pub fn successor_of(session_id: &str, presented: &str, key: &SecretKey) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
        mac.update(presented.as_bytes());
        Self::with_secret(session_id, &mac.finalize().into_bytes())
    }

    fn with_secret(session_id: &str, secret: &[u8]) -> Self {
        let token = format!("{session_id}.{}", BASE64_URL.encode(secret));
        let hash = Self::hash_of(&token);
        Self { token, hash }
    }

    /// The stored hash of a presented token.
    pub fn hash_of(token: &str) -> String {
        Sha256::digest(token.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// When the session a token's id names started: session ids are UUIDv7, whose first 48
    /// bits are the creation time (see [`TokenIssuer::new_session`]).
    pub fn session_started_at(session_id: &str) -> Option<UnixMillis> {
        let (seconds, nanos) = uuid::Uuid::parse_str(session_id)
            .ok()?
            .get_timestamp()?
            .to_unix();
        let millis = i64::try_from(seconds).ok()?.checked_mul(1000)? + i64::from(nanos / 1_000_000);
        Some(UnixMillis::from_i64(millis))
    }

    /// The session id a presented token names, if it has the right shape.
    pub fn session_id_of(token: &str) -> Option<&str> {
        let (session_id, secret) = token.trim().split_once('.')?;
        (uuid::Uuid::parse_str(session_id).is_ok() && !secret.is_empty()).then_some(session_id)
    }
}

/// Signs access tokens and knows the lifetimes.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    signer: TokenSigner,
    previous_keys: Vec<PublicKey>,
    lifetimes: SessionLifetimes,
    successor_key: SecretKey,
}

/// How long tokens and sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionLifetimes {
    /// Lifetime of an access token.
    pub access_ttl: Duration,
    /// A session ends when its refresh token goes unused this long.
    pub refresh_idle_ttl: Duration,
    /// A session ends this long after it started however often it is refreshed (Keycloak's
    /// SSO Session Max): then the person signs in again.
    pub max_lifetime: Duration,
    /// How long after a refresh token was traded in it still gets the same successor, so
    /// two refreshes racing with one token do not end the session (as Okta, Auth0 and Ory
    /// allow); later, presenting it is a reuse.
    pub reuse_grace: Duration,
}

impl TokenIssuer {
    /// Access tokens signed by `signer`; `previous_keys` stay published for rotation;
    /// `successor_key` derives each refresh token's successor.
    pub fn new(
        signer: TokenSigner,
        previous_keys: Vec<PublicKey>,
        lifetimes: SessionLifetimes,
        successor_key: SecretKey,
    ) -> Self {
        Self {
            signer,
            previous_keys,
            lifetimes,
            successor_key,
        }
    }

    /// When a refresh token issued now for a session started at `started_at` stops working:
    /// after the idle time, or at the session's end, whichever comes first.
    pub fn refresh_expires_at(&self, now: UnixMillis, started_at: UnixMillis) -> UnixMillis {
        now.saturating_add(self.lifetimes.refresh_idle_ttl)
            .min(self.session_ends_at(started_at))
    }

    /// When a session started at `started_at` ends however often it is refreshed.
    pub fn session_ends_at(&self, started_at: UnixMillis) -> UnixMillis {
        started_at.saturating_add(self.lifetimes.max_lifetime)
    }

    /// The refresh token that replaces `presented`.
    pub fn successor(&self, session_id: &str, presented: &str) -> RefreshToken {
        RefreshToken::successor_of(session_id, presented, &self.successor_key)
    }

    /// How long a traded-in refresh token still gets the same successor.
    pub fn reuse_grace(&self) -> Duration {
        self.lifetimes.reuse_grace
    }

    /// Signs an access token for `session` and pairs it with `refresh`.
    pub fn issue(
        &self,
        session: &Session,
        refresh: &RefreshToken,
        now: UnixMillis,
    ) -> anyhow::Result<IssuedTokens> {
        let access_expires_at = now.saturating_add(self.lifetimes.access_ttl);
        let claims = AccessClaims {
            iss: ACCESS_TOKEN_ISSUER.to_owned(),
            aud: ACCESS_TOKEN_AUDIENCE.to_owned(),
            sub: session.mi_id.to_string(),
            sid: session.session_id.clone(),
            amr: session.methods.clone(),
            auth_time: seconds(session.auth_time),
            iat: seconds(now),
            exp: seconds(access_expires_at),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        Ok(IssuedTokens {
            access_token: self.signer.sign(&claims)?,
            access_expires_at,
            refresh_token: refresh.token.clone(),
            refresh_expires_at: self.refresh_expires_at(now, session.created_at),
        })
    }

    /// A new session of `mi_id` on `device`, proven by `methods` at `now`, with its first
    /// refresh token; not yet stored.
    pub fn new_session(
        &self,
        mi_id: MiId,
        device: DeviceInfo,
        client_address: &str,
        methods: Vec<String>,
        now: UnixMillis,
    ) -> (NewSession, RefreshToken) {
        let session_id = uuid::Uuid::now_v7().to_string();
        let refresh = RefreshToken::generate(&session_id);
        let session = Session {
            session_id,
            mi_id,
            device,
            client_address: client_address.to_owned(),
            methods,
            created_at: now,
            last_used_at: now,
            auth_time: now,
        };
        let new_session = NewSession {
            session,
            refresh_hash: refresh.hash.clone(),
            refresh_expires_at: self.refresh_expires_at(now, now),
        };
        (new_session, refresh)
    }

    /// Signs the tokens of a session just stored.
    pub fn tokens_for(
        &self,
        session: NewSession,
        refresh: &RefreshToken,
    ) -> anyhow::Result<SessionTokens> {
        let tokens = self.issue(&session.session, refresh, UnixMillis::now())?;
        Ok(SessionTokens {
            session: session.session,
            tokens,
        })
    }

    /// The current key first, then the retired ones still trusted.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        std::iter::once(self.signer.public_key().clone())
            .chain(self.previous_keys.iter().cloned())
            .collect()
    }
}

/// A time as JWT claims carry it: whole seconds since the epoch.
fn seconds(time: UnixMillis) -> i64 {
    time.as_i64() / 1000
}
