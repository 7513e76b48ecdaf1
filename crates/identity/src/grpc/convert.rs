//! Domain types onto the wire.

use mi_platform::clock;
use mi_proto::identity::v1 as api;

use crate::domain::{Account, Challenge, SecondFactorMethod, Session, SessionTokens};
use crate::events;

/// An account as GetAccount shows it.
pub fn account(account: Account) -> api::Account {
    api::Account {
        mi_id: account.mi_id.get(),
        create_time: Some(clock::millis_to_timestamp(account.created_at)),
        contacts: account
            .contacts
            .iter()
            .map(|contact| api::Contact {
                kind: events::contact_kind(contact.value.kind()).into(),
                value: contact.value.as_str().to_owned(),
                primary: contact.primary,
                verify_time: Some(clock::millis_to_timestamp(contact.verified_at)),
            })
            .collect(),
        two_factor: Some(api::TwoFactorStatus {
            enabled: account.two_factor.enabled(),
            totp_enabled: account.two_factor.totp,
            code_enabled: account.two_factor.codes,
            recovery_codes_left: account.two_factor.recovery_codes_left,
        }),
        consent: Some(api::Consent {
            terms_version: account.consent.terms_version,
            privacy_policy_version: account.consent.privacy_policy_version,
            accept_time: Some(clock::millis_to_timestamp(account.consent.accepted_at)),
        }),
        display_name: account.display_name,
        region: account.region,
        locale: account.locale,
    }
}

/// Session tokens as the client gets them.
pub fn tokens(session_tokens: SessionTokens) -> api::SessionTokens {
    let SessionTokens { session, tokens } = session_tokens;
    api::SessionTokens {
        mi_id: session.mi_id.get(),
        session_id: session.session_id,
        access_token: tokens.access_token,
        access_token_expire_time: Some(clock::millis_to_timestamp(tokens.access_expires_at)),
        refresh_token: tokens.refresh_token,
        refresh_token_expire_time: Some(clock::millis_to_timestamp(tokens.refresh_expires_at)),
    }
}

/// A challenge as SignIn returns it.
pub fn challenge(challenge: Challenge, masked_contacts: Vec<String>) -> api::SecondFactorChallenge {
    api::SecondFactorChallenge {
        challenge_id: challenge.challenge_id,
        expire_time: Some(clock::millis_to_timestamp(challenge.expires_at)),
        methods: challenge
            .methods
            .iter()
            .map(|method| i32::from(method_to_wire(*method)))
            .collect(),
        masked_contacts,
        reason: challenge.reason.as_str().to_owned(),
    }
}

fn method_to_wire(method: SecondFactorMethod) -> api::SecondFactorMethod {
    match method {
        SecondFactorMethod::Totp => api::SecondFactorMethod::Totp,
        SecondFactorMethod::RecoveryCode => api::SecondFactorMethod::RecoveryCode,
        SecondFactorMethod::VerificationCode => api::SecondFactorMethod::VerificationCode,
    }
}

/// A session as ListSessions shows it.
pub fn session(session: Session, current_session_id: &str) -> api::Session {
    api::Session {
        current: session.session_id == current_session_id,
        device: Some(events::device(&session.device)),
        client_address: session.client_address,
        create_time: Some(clock::millis_to_timestamp(session.created_at)),
        last_used_time: Some(clock::millis_to_timestamp(session.last_used_at)),
        session_id: session.session_id,
    }
}
