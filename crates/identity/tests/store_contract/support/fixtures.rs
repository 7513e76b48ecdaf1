//! Builders: contacts, tokens, password hashes, accounts, sessions, challenges, and a whole
//! [`SignUp`] that the store creates.

use mi_contracts::{MiId, UnixMillis};
use mi_identity::domain::events;
use mi_identity::domain::{
    Account, Challenge, ChallengeReason, Consent, ConsentChallenge, Contact, ContactValue,
    DeviceInfo, SecondFactorMethod, Session, StoredHash, TwoFactorStatus, VerifiedContact,
};
use mi_identity::domain::{CreateAccountOutcome, NewSession, SignUpStore};
use mi_identity::storage::SqlIdentityStore;

use super::{DAY, PHONE_A, PHONE_B, shifted, start};

pub(crate) fn contact(raw: &str) -> ContactValue {
    ContactValue::parse(raw).expect("contact")
}

pub(crate) fn mi_id(raw: u64) -> MiId {
    MiId::new(raw).expect("mi id")
}

/// A fresh verification token proving `value`.
pub(crate) fn token(value: &ContactValue) -> VerifiedContact {
    VerifiedContact {
        contact: value.clone(),
        token_id: uuid::Uuid::new_v4().to_string(),
        expires_at: shifted(UnixMillis::now(), 10 * 60 * 1000),
    }
}

pub(crate) fn password(label: &str) -> StoredHash {
    StoredHash(format!(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${label}"
    ))
}

pub(crate) fn random_hash() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A recovery (not primary) contact verified at `verified_at`.
pub(crate) fn recovery(raw: &str, verified_at: UnixMillis) -> Contact {
    Contact {
        value: contact(raw),
        primary: false,
        verified_at,
    }
}

/// The second-factor state an account shows.
pub(crate) fn two_factor(totp: bool, codes: bool, recovery_codes_left: u32) -> TwoFactorStatus {
    TwoFactorStatus {
        totp,
        codes,
        recovery_codes_left,
    }
}

pub(crate) fn new_account(raw_id: u64, primary: &str, now: UnixMillis) -> Account {
    Account {
        mi_id: mi_id(raw_id),
        display_name: format!("User {raw_id}"),
        region: "CN".into(),
        locale: "zh-CN".into(),
        created_at: now,
        contacts: vec![Contact {
            value: contact(primary),
            primary: true,
            verified_at: now,
        }],
        two_factor: TwoFactorStatus::default(),
        consent: Consent {
            terms_version: "2025-01".into(),
            privacy_policy_version: "2025-02".into(),
            accepted_at: now,
        },
    }
}

pub(crate) fn device(device_id: &str) -> DeviceInfo {
    DeviceInfo {
        device_id: device_id.into(),
        model: "Redmi Note 13".into(),
        os: "HyperOS 2.0".into(),
        name: "Phone".into(),
        ..DeviceInfo::default()
    }
}

/// A session started at `created_at` whose refresh token lives until `refresh_expires_at`.
pub(crate) fn session_until(
    mi_id: MiId,
    device_id: &str,
    created_at: UnixMillis,
    refresh_expires_at: UnixMillis,
) -> NewSession {
    NewSession {
        session: Session {
            session_id: uuid::Uuid::now_v7().to_string(),
            mi_id,
            device: device(device_id),
            client_address: "203.0.113.7".into(),
            methods: vec!["pwd".into()],
            created_at,
            last_used_at: created_at,
            auth_time: created_at,
        },
        refresh_hash: random_hash(),
        refresh_expires_at,
    }
}

/// A session started at `created_at` whose refresh token lives for 30 days.
pub(crate) fn new_session(mi_id: MiId, device_id: &str, created_at: UnixMillis) -> NewSession {
    session_until(mi_id, device_id, created_at, shifted(created_at, 30 * DAY))
}

/// A two-factor sign-in challenge on a new `device-2`.
pub(crate) fn new_challenge(mi_id: MiId, expires_at: UnixMillis) -> Challenge {
    Challenge {
        challenge_id: uuid::Uuid::new_v4().to_string(),
        mi_id,
        device: device("device-2"),
        client_address: "203.0.113.8".into(),
        reason: ChallengeReason::TwoFactor,
        methods: vec![SecondFactorMethod::Totp, SecondFactorMethod::RecoveryCode],
        new_device: true,
        attempts: 0,
        expires_at,
        completed: false,
    }
}

/// A consent step of a sign-in on `device-2` that proved the password and a TOTP code now.
pub(crate) fn new_consent_challenge(mi_id: MiId, expires_at: UnixMillis) -> ConsentChallenge {
    ConsentChallenge {
        challenge_id: uuid::Uuid::new_v4().to_string(),
        mi_id,
        device: device("device-2"),
        client_address: "203.0.113.8".into(),
        methods: vec!["pwd".into(), "otp".into(), "mfa".into()],
        new_device: true,
        authenticated_at: UnixMillis::now(),
        expires_at,
        completed: false,
    }
}

/// A sign-up: an account with its primary contact, password, verification token and first
/// session. [`SignUp::new`] gives the usual one; the `with_*` methods change a part of it.
#[derive(Debug, Clone)]
pub(crate) struct SignUp {
    pub account: Account,
    pub password: StoredHash,
    pub token: VerifiedContact,
    pub session: NewSession,
}

impl SignUp {
    /// Password `initial`, a fresh token for the primary contact, a session on `device-1`.
    pub(crate) fn new(raw_id: u64, primary: &str, now: UnixMillis) -> Self {
        let account = new_account(raw_id, primary, now);
        Self {
            password: password("initial"),
            token: token(&account.contacts[0].value),
            session: new_session(account.mi_id, "device-1", now),
            account,
        }
    }

    pub(crate) fn with_password(self, label: &str) -> Self {
        let password = password(label);
        Self { password, ..self }
    }

    pub(crate) fn with_token(self, token: &VerifiedContact) -> Self {
        let token = token.clone();
        Self { token, ..self }
    }

    /// The first session on `device_id` instead, started when the account is created.
    pub(crate) fn on_device(self, device_id: &str) -> Self {
        let session = new_session(self.account.mi_id, device_id, self.account.created_at);
        Self { session, ..self }
    }

    pub(crate) fn mi_id(&self) -> MiId {
        self.account.mi_id
    }

    pub(crate) fn session_id(&self) -> &str {
        &self.session.session.session_id
    }

    /// More sessions of the account: for each `n`, one on `device-{n}` started `n - 1` seconds
    /// after the first one (on `device-1`).
    pub(crate) async fn start_devices<const N: usize>(
        &self,
        store: &SqlIdentityStore,
        devices: [i64; N],
    ) -> [NewSession; N] {
        let mut sessions = Vec::with_capacity(N);
        for n in devices {
            let created_at = shifted(self.session.session.created_at, (n - 1) * 1_000);
            sessions.push(start(store, self.mi_id(), &format!("device-{n}"), created_at).await);
        }
        sessions.try_into().expect("a session for each device")
    }

    /// Tries to create the account, with its AccountCreated and SignedIn events.
    pub(crate) async fn attempt(&self, store: &SqlIdentityStore) -> CreateAccountOutcome {
        let events = [
            events::account_created(&self.account, &self.account.contacts[0].value),
            events::signed_in(&self.account, &self.session.session, true),
        ];
        let (account, session) = (&self.account, &self.session);
        store
            .create_account(account, &self.password, &self.token, session, &events)
            .await
            .expect("create account")
    }
}

/// An account created through the store now, as [`SignUp::new`] builds it.
pub(crate) async fn sign_up(store: &SqlIdentityStore, raw_id: u64, primary: &str) -> SignUp {
    let sign_up = SignUp::new(raw_id, primary, UnixMillis::now());
    assert_eq!(sign_up.attempt(store).await, CreateAccountOutcome::Created);
    sign_up
}

/// The two accounts most scenarios start with, created now: 1000000001 on [`PHONE_A`], the
/// one they work on, and 1000000002 on [`PHONE_B`], the other one that is to stay untouched.
pub(crate) async fn two_accounts(store: &SqlIdentityStore) -> (SignUp, SignUp) {
    let signed_up = sign_up(store, 1_000_000_001, PHONE_A).await;
    let other = sign_up(store, 1_000_000_002, PHONE_B).await;
    (signed_up, other)
}

/// The account of one round of a concurrency scenario, each round with a phone of its own.
pub(crate) async fn sign_up_round(store: &SqlIdentityStore, round: u64) -> SignUp {
    let phone = format!("+86138001300{round:02}");
    sign_up(store, 1_000_000_001 + round, &phone).await
}
