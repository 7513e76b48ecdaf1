//! Codes to contacts the client knows only masked: SendCode with a challenge contact (a
//! sign-in challenge's or a password reset's), the code read from the dev inbox (the test
//! knows the destination; the client under test never sends it), CheckCode.

use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::identity::v1::{
    MaskedContact, StartPasswordResetRequest, StartPasswordResetResponse,
};
use mi_proto::verification::v1::send_code_request::Target;
use mi_proto::verification::v1::{
    ChallengeContact, CheckCodeResponse, SendCodeRequest, SendCodeResponse,
};
use tonic::Status;

use crate::support::{TestPlatform, code_in, identity::CODE_MARKER};

/// A SendCode request naming a challenge's contact as the client got it, with a purpose and a
/// channel and no CAPTCHA.
pub(crate) fn contact_request(
    challenge_id: &str,
    contact: &MaskedContact,
    channel: CodeChannel,
    purpose: Purpose,
) -> SendCodeRequest {
    SendCodeRequest {
        target: Some(Target::ChallengeContact(ChallengeContact {
            challenge_id: challenge_id.to_owned(),
            contact_id: contact.contact_id.clone(),
            send_token: contact.send_token.clone(),
        })),
        channel: channel.into(),
        purpose: purpose.into(),
        locale: "en".into(),
        captcha: None,
    }
}

impl TestPlatform {
    /// StartPasswordReset for an identifier.
    pub(crate) async fn start_reset(
        &self,
        identifier: &str,
    ) -> Result<StartPasswordResetResponse, Status> {
        let request = StartPasswordResetRequest {
            identifier: identifier.to_owned(),
        };
        Ok(self
            .identity()
            .await
            .start_password_reset(request)
            .await?
            .into_inner())
    }

    /// How many one-time codes (not alerts) the dev inbox holds for `destination`.
    pub(crate) async fn code_messages(&self, destination: &str) -> usize {
        let messages = self.inbox(destination).await;
        messages
            .iter()
            .filter(|message| message.body.contains(CODE_MARKER))
            .count()
    }

    /// SendCode with any request.
    pub(crate) async fn send(&self, request: SendCodeRequest) -> Result<SendCodeResponse, Status> {
        Ok(self
            .verification()
            .await
            .send_code(request)
            .await?
            .into_inner())
    }

    /// A code sent to a challenge contact (with a solved CAPTCHA, which the sends before it
    /// may have made necessary), read from the inbox of `inbox_destination` (what the contact
    /// really is) and checked: SendCode's and CheckCode's replies.
    pub(crate) async fn code_via_contact(
        &self,
        request: SendCodeRequest,
        inbox_destination: &str,
    ) -> (SendCodeResponse, CheckCodeResponse) {
        let request = SendCodeRequest {
            captcha: Some(self.solved_captcha().await),
            ..request
        };
        let before = self.inbox(inbox_destination).await.len();
        let sent = self
            .send(request)
            .await
            .unwrap_or_else(|status| panic!("SendCode to a challenge contact refused: {status:?}"));
        let message = self
            .wait_for_new_code_message(inbox_destination, before)
            .await;
        let checked = self
            .check(&sent.verification_id, &code_in(&message))
            .await
            .unwrap_or_else(|status| panic!("CheckCode refused: {status:?}"));
        (sent, checked)
    }
}
