//! Every flow of the seed articles walked as an app client walks it (issue 11): the client
//! knows only what each reply gave it. The current terms and privacy versions come from
//! GetLegalDocuments, the Mi ID from SignUp, the contacts a code can go to from the challenge
//! or the password reset, masked; the person types the phone number once, at sign-up, and the
//! recovery email once, when adding it. [`Client::outgoing`] checks every request after that
//! carries neither in full, and [`Client::incoming`] that no reply shows them (verification
//! tokens aside: JWTs whose subject is the destination). The dev inbox stands in for the person's phone and mailbox: the
//! test reads codes there as the person would, the client never sends what it read there but
//! the code.
//!
//! The replies are read by the small `*_of` functions at the bottom, so a change of response
//! messages touches only them.

use std::fmt::Debug;

use mi_contracts::Reason;
use mi_proto::common::v1::{Channel as CodeChannel, DeviceInfo, Purpose};
use mi_proto::device::v1::Device;
use mi_proto::identity::v1::complete_sign_in_response::Result as CompletedResult;
use mi_proto::identity::v1::reauthenticate_request::Proof as ReauthProof;
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::sign_in_response::Result as SignInResult;
use mi_proto::identity::v1::{
    Account, AddRecoveryContactRequest, ChallengeReason, CompleteSignInRequest,
    CompleteSignInResponse, ContactKind, DeleteAccountRequest, GetLegalDocumentsRequest,
    LegalDocumentKind, ListSessionsRequest, ListSessionsResponse, MaskedContact,
    ReauthenticateRequest, ResetPasswordRequest, RevokeSessionRequest, SecondFactorChallenge,
    SecondFactorMethod, SecondFactorProof, Session, SessionTokens, SetCodeSecondFactorRequest,
    SignInRequest, SignInResponse, SignUpRequest, SignUpResponse, StartPasswordResetRequest,
};
use mi_proto::verification::v1::send_code_request::Target;
use mi_proto::verification::v1::{
    CaptchaAnswer, ChallengeContact, CheckCodeRequest, CheckCodeResponse, CreateCaptchaRequest,
    SendCodeRequest,
};
use tonic::{Code, Status};

use crate::device_linking::{device_id, wait_for_devices};
use crate::support::{
    Backends, TestConfig, TestPlatform, authed, code_in, expect_refusal, in_both_modes,
    localized_message, reason, strong_password, test_device, unique_email, unique_phone_number,
};

in_both_modes!(a_client_walks_every_flow_from_the_replies_alone);

/// The answer that passes any CAPTCHA in test mode, as the README documents it.
const TEST_CAPTCHA_ANSWER: &str = "test-captcha";

/// The person: a phone and a mailbox, whose messages the test reads from the dev inbox.
struct Person {
    phone: String,
    email: String,
}

/// An app client: the platform's ports, and the values a person typed that must not travel
/// again once the client only has them masked.
struct Client<'a> {
    platform: &'a TestPlatform,
    backends: Backends,
    typed_once: Vec<String>,
}

impl Client<'_> {
    /// Passes `request` on unchanged after asserting it carries no value typed once already.
    #[track_caller]
    fn outgoing<T: Debug>(&self, what: &str, request: T) -> T {
        self.assert_masked(what, &request);
        request
    }

    /// Passes `reply` on unchanged after asserting it shows no value typed once in full: the
    /// client is given contacts masked only.
    #[track_caller]
    fn incoming<T: Debug>(&self, what: &str, reply: T) -> T {
        self.assert_masked(what, &reply);
        reply
    }

    #[track_caller]
    fn assert_masked(&self, what: &str, message: &impl Debug) {
        let shown = format!("{message:?}");
        for value in &self.typed_once {
            assert!(
                !shown.contains(value.as_str()),
                "{what} carries {value}, which the client was only given masked: {shown}"
            );
        }
    }

    /// From now on no request may carry `value` (the national digits of a phone number, or an
    /// email address).
    fn forget(&mut self, value: &str) {
        self.typed_once.push(value.to_owned());
    }

    /// A CAPTCHA CreateCaptcha made, answered: with the documented test answer in embedded
    /// mode (test mode on), else as the other tests do, since a test cannot read the image.
    async fn solve_captcha(&self) -> CaptchaAnswer {
        if self.backends == Backends::Servers {
            return self.platform.solved_captcha().await;
        }
        let captcha = self
            .platform
            .verification()
            .await
            .create_captcha(CreateCaptchaRequest {})
            .await
            .unwrap()
            .into_inner();
        CaptchaAnswer {
            captcha_id: captcha.captcha_id,
            answer: TEST_CAPTCHA_ANSWER.into(),
            ..CaptchaAnswer::default()
        }
    }

    /// SendCode as an app does it: without a CAPTCHA first, and when the reply's reason says
    /// one is required, again with a solved one. Returns the verification id.
    async fn send_code(&self, request: SendCodeRequest) -> String {
        let what = format!("SendCode {:?}", request.purpose());
        let request = self.outgoing(&what, request);
        let mut verification = self.platform.verification().await;
        let sent = match verification.send_code(request.clone()).await {
            Ok(sent) => sent,
            Err(refusal) => {
                assert_eq!(
                    reason(&refusal),
                    Some(Reason::CaptchaRequired),
                    "{what}: {refusal:?}"
                );
                let with_captcha = SendCodeRequest {
                    captcha: Some(self.solve_captcha().await),
                    ..request
                };
                verification
                    .send_code(self.outgoing(&what, with_captcha))
                    .await
                    .unwrap_or_else(|status| panic!("{what} refused: {status:?}"))
            }
        };
        let sent = self.incoming(&what, sent.into_inner());
        assert!(!sent.masked_destination.is_empty(), "{what}: {sent:?}");
        sent.verification_id
    }

    /// CheckCode with the code the person read.
    async fn check_code(&self, verification_id: &str, code: String) -> CheckCodeResponse {
        let request = self.outgoing(
            "CheckCode",
            CheckCodeRequest {
                verification_id: verification_id.to_owned(),
                code,
            },
        );
        let checked = self
            .platform
            .verification()
            .await
            .check_code(request)
            .await
            .unwrap_or_else(|status| panic!("CheckCode refused: {status:?}"))
            .into_inner();
        // Its verification token is left out: a JWT whose subject is the destination.
        let shown = CheckCodeResponse {
            verification_token: String::new(),
            ..checked.clone()
        };
        self.incoming("CheckCode", shown);
        checked
    }

    /// A code sent to a contact the client knows only masked (a challenge's or a password
    /// reset's), read by the person on the device of that kind, checked: the verification
    /// token.
    async fn code_to_contact(
        &self,
        person: &Person,
        challenge_id: &str,
        contact: &MaskedContact,
        purpose: Purpose,
    ) -> String {
        let (channel, device) = match contact.kind() {
            ContactKind::Phone => (CodeChannel::Sms, &person.phone),
            ContactKind::Email => (CodeChannel::Email, &person.email),
            other => panic!("a contact of kind {other:?}: {contact:?}"),
        };
        let before = self.platform.inbox(device).await.len();
        let verification_id = self
            .send_code(SendCodeRequest {
                target: Some(Target::ChallengeContact(ChallengeContact {
                    challenge_id: challenge_id.to_owned(),
                    contact_id: contact.contact_id.clone(),
                    send_token: contact.send_token.clone(),
                })),
                channel: channel.into(),
                purpose: purpose.into(),
                locale: "en".into(),
                captcha: None,
            })
            .await;
        let code = read_code(self.platform, device, before).await;
        let checked = self.check_code(&verification_id, code).await;
        assert_eq!(checked.masked_destination, contact.masked);
        // A signed token is readable by whoever holds it: its claims must not show the
        // contact either.
        self.assert_masked(
            "CheckCode's verification token",
            &token_claims(&checked.verification_token),
        );
        checked.verification_token
    }

    /// SignIn with an identifier the client has (the Mi ID the sign-up reply gave).
    async fn sign_in(
        &self,
        mi_id: u64,
        password: &str,
        device: DeviceInfo,
    ) -> Result<SignInResponse, Status> {
        let request = self.outgoing(
            "SignIn",
            SignInRequest {
                identifier: mi_id.to_string(),
                password: password.to_owned(),
                device: Some(device),
                captcha_pass: String::new(),
            },
        );
        let reply = self.platform.identity().await.sign_in(request).await?;
        Ok(self.incoming("SignIn", reply.into_inner()))
    }

    /// The challenge of a sign-in answered with a code to the challenge's contact of `kind`.
    async fn pass_code_challenge(
        &self,
        person: &Person,
        challenge: &SecondFactorChallenge,
        kind: ContactKind,
    ) -> SessionTokens {
        assert!(
            challenge
                .methods
                .contains(&SecondFactorMethod::VerificationCode.into()),
            "{challenge:?}"
        );
        let contact = challenge
            .contacts
            .iter()
            .find(|contact| contact.kind() == kind)
            .unwrap_or_else(|| panic!("no {kind:?} contact in {challenge:?}"));
        let verification_token = self
            .code_to_contact(
                person,
                &challenge.challenge_id,
                contact,
                Purpose::SignInSecondFactor,
            )
            .await;
        let request = self.outgoing(
            "CompleteSignIn",
            CompleteSignInRequest {
                challenge_id: challenge.challenge_id.clone(),
                proof: Some(SecondFactorProof {
                    proof: Some(Proof::VerificationToken(verification_token)),
                }),
            },
        );
        let completed = self
            .platform
            .identity()
            .await
            .complete_sign_in(request)
            .await
            .unwrap_or_else(|status| panic!("CompleteSignIn refused: {status:?}"))
            .into_inner();
        tokens_of_completed_sign_in(completed)
    }

    /// ListSessions for the session of `access_token`.
    async fn sessions(&self, access_token: &str) -> Vec<Session> {
        let request = self.outgoing("ListSessions", ListSessionsRequest::default());
        let listed = self
            .platform
            .identity()
            .await
            .list_sessions(authed(request, access_token))
            .await
            .unwrap()
            .into_inner();
        sessions_of(self.incoming("ListSessions", listed))
    }
}

/// The first new one-time code on the person's `device` (phone number or mailbox) after its
/// first `before` messages.
async fn read_code(platform: &TestPlatform, device: &str, before: usize) -> String {
    code_in(&platform.wait_for_new_code_message(device, before).await)
}

async fn a_client_walks_every_flow_from_the_replies_alone(backends: Backends) {
    let config = TestConfig::new(backends).with_repeatable_codes();
    let config = match backends {
        Backends::Embedded => config.with_value("verification.captcha.test_mode", true),
        Backends::Servers | Backends::ServersWithRedisCluster => config,
    };
    let platform = TestPlatform::start_with(config).await;
    let person = Person {
        phone: unique_phone_number(),
        email: unique_email(),
    };
    let mut client = Client {
        platform: &platform,
        backends,
        typed_once: Vec::new(),
    };

    // The consent screen: the current versions, and where to read them.
    let documents = platform
        .identity()
        .await
        .get_legal_documents(client.outgoing(
            "GetLegalDocuments",
            GetLegalDocumentsRequest {
                locale: "en".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .documents;
    let version_of = |kind: LegalDocumentKind| {
        let document = documents
            .iter()
            .find(|document| document.kind() == kind)
            .unwrap_or_else(|| panic!("no {kind:?} in {documents:?}"));
        assert!(document.url.starts_with("http"), "{document:?}");
        document.version.clone()
    };
    let terms_version = version_of(LegalDocumentKind::TermsOfService);
    let privacy_version = version_of(LegalDocumentKind::PrivacyPolicy);

    // Sign-up by phone. The first SendCode goes without a CAPTCHA: the refusal is what a UI
    // shows before the security check, in the request's language.
    let sign_up_send = SendCodeRequest {
        target: Some(Target::Destination(person.phone.clone())),
        channel: CodeChannel::Sms.into(),
        purpose: Purpose::SignUp.into(),
        locale: "en".into(),
        captcha: None,
    };
    let refusal = expect_refusal(
        platform
            .verification()
            .await
            .send_code(sign_up_send.clone())
            .await,
        Code::FailedPrecondition,
        Some(Reason::CaptchaRequired),
        "a sign-up code without the security check",
    );
    assert_eq!(
        localized_message(&refusal),
        Some((
            "en".to_owned(),
            "Complete the security check to continue.".to_owned()
        ))
    );
    let verification_id = client.send_code(sign_up_send).await;
    let code = read_code(&platform, &person.phone, 0).await;
    let checked = client.check_code(&verification_id, code).await;
    assert_eq!(
        checked.destination, person.phone,
        "the number as typed, normalized"
    );
    // Typed once: from here on the client has the number only masked.
    client.forget(&person.phone[3..]);
    let password = strong_password();
    let sign_up = client.outgoing(
        "SignUp",
        SignUpRequest {
            verification_token: checked.verification_token,
            password: password.clone(),
            region: "CN".into(),
            locale: "en".into(),
            display_name: "Walker".into(),
            accepted_terms_version: terms_version.clone(),
            accepted_privacy_policy_version: privacy_version.clone(),
            device: Some(test_device("phone-1")),
        },
    );
    let signed_up = platform
        .identity()
        .await
        .sign_up(sign_up)
        .await
        .unwrap_or_else(|status| panic!("SignUp refused: {status:?}"))
        .into_inner();
    let (mi_id, phone_session) = signed_up_of(signed_up);

    // A recovery email, then codes to the contacts as a second factor: sensitive changes, so
    // the password is proven again first.
    let reauthenticate = client.outgoing(
        "Reauthenticate",
        ReauthenticateRequest {
            proof: Some(ReauthProof::Password(password.clone())),
        },
    );
    platform
        .identity()
        .await
        .reauthenticate(authed(reauthenticate, &phone_session.access_token))
        .await
        .unwrap();
    let verification_id = client
        .send_code(SendCodeRequest {
            target: Some(Target::Destination(person.email.clone())),
            channel: CodeChannel::Email.into(),
            purpose: Purpose::AddRecoveryContact.into(),
            locale: "en".into(),
            captcha: None,
        })
        .await;
    let code = read_code(&platform, &person.email, 0).await;
    let checked = client.check_code(&verification_id, code).await;
    client.forget(&person.email);
    let add_contact = client.outgoing(
        "AddRecoveryContact",
        AddRecoveryContactRequest {
            verification_token: checked.verification_token,
        },
    );
    let added = platform
        .identity()
        .await
        .add_recovery_contact(authed(add_contact, &phone_session.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(account_of(added.account).contacts.len(), 2);
    let second_factor = client.outgoing(
        "SetCodeSecondFactor",
        SetCodeSecondFactorRequest { enabled: true },
    );
    let turned_on = platform
        .identity()
        .await
        .set_code_second_factor(authed(second_factor, &phone_session.access_token))
        .await
        .unwrap()
        .into_inner();
    assert!(
        account_of(turned_on.account)
            .two_factor
            .unwrap()
            .code_enabled
    );

    // Sign-in by Mi ID on a tablet: the code goes to the phone the challenge shows masked.
    let tablet = DeviceInfo {
        model: "Xiaomi Pad 6".into(),
        ..test_device("tablet-1")
    };
    let challenge = challenge_of(
        client
            .sign_in(mi_id, &password, tablet.clone())
            .await
            .unwrap(),
    );
    assert_eq!(challenge.reason(), ChallengeReason::TwoFactor);
    let tablet_session = client
        .pass_code_challenge(&person, &challenge, ContactKind::Phone)
        .await;
    assert_eq!(tablet_session.mi_id, mi_id);

    // Sessions and devices: the tablet ends the phone's session.
    let sessions = client.sessions(&tablet_session.access_token).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let other = sessions
        .iter()
        .find(|session| !session.current)
        .expect("the phone's session");
    assert_eq!(other.device.as_ref().unwrap().device_id, "phone-1");
    let caller = (mi_id, tablet_session.access_token.as_str());
    let devices = wait_for_devices(&platform, caller, |listed| listed.len() == 2).await;
    let mut ids: Vec<&str> = devices.iter().map(device_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["phone-1", "tablet-1"]);
    let revoke = client.outgoing(
        "RevokeSession",
        RevokeSessionRequest {
            session_id: other.session_id.clone(),
        },
    );
    platform
        .identity()
        .await
        .revoke_session(authed(revoke, &tablet_session.access_token))
        .await
        .unwrap();
    platform
        .assert_session_ended(&phone_session, "the revoked phone session")
        .await;
    let sessions = client.sessions(&tablet_session.access_token).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");

    // Forgot password, starting from the Mi ID: the code goes to the email the reset shows
    // masked; every session ends.
    let start = client.outgoing(
        "StartPasswordReset",
        StartPasswordResetRequest {
            identifier: mi_id.to_string(),
        },
    );
    let reset = client.incoming(
        "StartPasswordReset",
        platform
            .identity()
            .await
            .start_password_reset(start)
            .await
            .unwrap()
            .into_inner(),
    );
    let email_contact = reset
        .contacts
        .iter()
        .find(|contact| contact.kind() == ContactKind::Email)
        .unwrap_or_else(|| panic!("no email contact in {reset:?}"));
    let verification_token = client
        .code_to_contact(
            &person,
            &reset.challenge_id,
            email_contact,
            Purpose::PasswordReset,
        )
        .await;
    let new_password = strong_password();
    let reset_request = client.outgoing(
        "ResetPassword",
        ResetPasswordRequest {
            verification_token,
            new_password: new_password.clone(),
        },
    );
    let done = platform
        .identity()
        .await
        .reset_password(reset_request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.mi_id, mi_id);
    platform
        .assert_session_ended(&tablet_session, "the tablet after the reset")
        .await;

    // The old password is refused as a UI shows it; the new one signs in, with the second
    // factor by email this time.
    let refusal = expect_refusal(
        client.sign_in(mi_id, &password, tablet.clone()).await,
        Code::Unauthenticated,
        Some(Reason::InvalidCredentials),
        "the password before the reset",
    );
    assert_eq!(
        localized_message(&refusal).map(|(_, message)| message),
        Some("Wrong account or password.".to_owned())
    );
    let challenge = challenge_of(client.sign_in(mi_id, &new_password, tablet).await.unwrap());
    let session = client
        .pass_code_challenge(&person, &challenge, ContactKind::Email)
        .await;

    // Deleting the account, right after signing in: its devices go, its Mi ID no longer signs
    // in.
    let delete = client.outgoing("DeleteAccount", DeleteAccountRequest {});
    platform
        .identity()
        .await
        .delete_account(authed(delete, &session.access_token))
        .await
        .unwrap();
    let caller = (mi_id, session.access_token.as_str());
    wait_for_devices(&platform, caller, <[Device]>::is_empty).await;
    expect_refusal(
        client
            .sign_in(mi_id, &new_password, test_device("phone-1"))
            .await,
        Code::Unauthenticated,
        Some(Reason::InvalidCredentials),
        "the deleted account's Mi ID",
    );
    platform.stop().await;
}

/// The Mi ID and the first session from SignUp's reply.
fn signed_up_of(response: SignUpResponse) -> (u64, SessionTokens) {
    let tokens = response.tokens.expect("SignUp signs the person in");
    (tokens.mi_id, tokens)
}

/// The tokens of a completed sign-in (the documents are current: no consent step).
fn tokens_of_completed_sign_in(response: CompleteSignInResponse) -> SessionTokens {
    match response.result {
        Some(CompletedResult::Tokens(tokens)) => tokens,
        other => panic!("expected tokens, got {other:?}"),
    }
}

/// The second-factor challenge of SignIn's reply.
fn challenge_of(response: SignInResponse) -> SecondFactorChallenge {
    match response.result {
        Some(SignInResult::Challenge(challenge)) => challenge,
        other => panic!("expected a second-factor challenge, got {other:?}"),
    }
}

/// The account an account-changing RPC's reply carries.
fn account_of(account: Option<Account>) -> Account {
    account.expect("the reply carries the account")
}

/// The sessions of ListSessions' reply (one page: an account here has two at most).
fn sessions_of(response: ListSessionsResponse) -> Vec<Session> {
    response.sessions
}

/// The claims of a JWT as text, read without checking the signature, as any client can.
fn token_claims(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    String::from_utf8(claims).expect("JSON claims")
}
