//! ListSessions a page at a time (AIP-158, by the platform's keyset paging): every session
//! once, newest first, across pages; a bad page size or token is refused before anything is
//! read.

use std::collections::HashSet;

use crate::support::{
    Backends, TestPlatform, authed, expect_refusal, field_violations, in_both_modes, test_device,
    unique_email,
};
use mi_proto::common::v1::Channel;
use mi_proto::identity::v1::{ListSessionsRequest, ListSessionsResponse};
use tonic::{Code, Status};

in_both_modes!(
    sessions_are_listed_a_page_at_a_time,
    bad_page_sizes_and_tokens_are_refused,
);

/// One ListSessions page.
async fn page(
    platform: &TestPlatform,
    access_token: &str,
    page_size: i32,
    page_token: &str,
) -> Result<ListSessionsResponse, Status> {
    let request = ListSessionsRequest {
        page_size,
        page_token: page_token.to_owned(),
    };
    Ok(platform
        .identity()
        .await
        .list_sessions(authed(request, access_token))
        .await?
        .into_inner())
}

async fn sessions_are_listed_a_page_at_a_time(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let email = unique_email();
    let (signed_up, password) = platform.create_account(&email, Channel::Email).await;
    // Five sessions; the newest is the caller's.
    let mut oldest_first = vec![signed_up.session_id];
    let mut access_token = String::new();
    for device in 1..=4 {
        let tokens = platform
            .sign_in_for_tokens(&email, &password, test_device(&format!("laptop-{device}")))
            .await;
        oldest_first.push(tokens.session_id);
        access_token = tokens.access_token;
    }

    let mut listed = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let reply = page(&platform, &access_token, 2, &page_token)
            .await
            .unwrap_or_else(|status| panic!("page {pages} refused: {status:?}"));
        pages += 1;
        assert!(reply.sessions.len() <= 2, "{reply:?}");
        listed.extend(reply.sessions.into_iter().map(|session| session.session_id));
        if reply.next_page_token.is_empty() {
            break;
        }
        assert!(pages < 5, "the pages never end");
        page_token = reply.next_page_token;
    }
    assert_eq!(pages, 3, "5 sessions, 2 a page");
    let distinct: HashSet<&String> = listed.iter().collect();
    assert_eq!(distinct.len(), listed.len(), "no session twice: {listed:?}");
    let newest_first: Vec<String> = oldest_first.into_iter().rev().collect();
    assert_eq!(listed, newest_first, "every session once, newest first");

    // Page size 0 is the default page, which holds them all.
    let whole = page(&platform, &access_token, 0, "").await.unwrap();
    assert_eq!(whole.sessions.len(), 5);
    assert_eq!(whole.next_page_token, "");
    platform.stop().await;
}

async fn bad_page_sizes_and_tokens_are_refused(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let (tokens, _) = platform
        .create_account(&unique_email(), Channel::Email)
        .await;
    let access = tokens.access_token.as_str();
    for (page_size, page_token, field) in [
        (-1, "", "page_size"),
        (2, "not-a-page-token", "page_token"),
        // A token of another list: the device registry's position has other fields.
        (
            2,
            "eyJsaW5rZWRfYXQiOjEsImRldmljZV9pZCI6ImEifQ",
            "page_token",
        ),
    ] {
        let refused = expect_refusal(
            page(&platform, access, page_size, page_token).await,
            Code::InvalidArgument,
            None,
            &format!("page_size {page_size}, page_token {page_token:?}"),
        );
        let violations = field_violations(&refused);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].0, field, "{violations:?}");
    }
    // Above the maximum is not refused but cut to it (AIP-158): the one session is listed.
    let all = page(&platform, access, i32::MAX, "").await.unwrap();
    assert_eq!(all.sessions.len(), 1);
    assert_eq!(all.next_page_token, "");
    platform.stop().await;
}
