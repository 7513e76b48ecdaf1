//! Groups of keys counted together. One call counts all its keys at once (all or none), so
//! its keys must live together: on Redis Cluster, in one slot. A key's group is the hash tag
//! that puts it there, so the same key lands in the same slot whichever call counts it.

/// The key `name` in `group`: every call that counts (or reads) several keys together names
/// them all in one group. The group is chosen by what is counted together, not per call: the
/// send limits of every destination and client are one group because each send checks them
/// with the one global budget. A key counted alone needs no group.
pub fn grouped(group: &str, name: &str) -> String {
    debug_assert!(
        !group.is_empty() && !group.contains(['{', '}']),
        "a limiter group is a non-empty name without braces: {group:?}"
    );
    format!("{{{group}}}:{name}")
}

/// The group of `key`: the `{group}` it starts with, or else the key itself (a key without a
/// group is in a group of its own).
fn group_of(key: &str) -> &str {
    key.strip_prefix('{')
        .and_then(|rest| rest.split_once('}'))
        .map(|(group, _)| group)
        .filter(|group| !group.is_empty())
        .unwrap_or(key)
}

/// Refuses a call whose keys are in different groups: on Redis Cluster they could be in
/// different slots, where no script can count them at once. Checked by every limiter, so a
/// caller's mistake shows in its tests (with memory or one Redis server) before a cluster.
pub(super) fn ensure_one_group<'a>(keys: impl IntoIterator<Item = &'a str>) -> anyhow::Result<()> {
    let mut keys = keys.into_iter();
    let Some(first) = keys.next() else {
        return Ok(());
    };
    let group = group_of(first);
    if let Some(other) = keys.find(|key| group_of(key) != group) {
        anyhow::bail!(
            "limiter keys counted together must be in one group (limiter::grouped): {first} and {other} are not"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_group_go_together_and_others_are_refused() {
        let hour = grouped("send", "destination-hour:+8613800138000");
        assert_eq!(hour, "{send}:destination-hour:+8613800138000");
        let client = grouped("send", "client-hour:192.0.2.1");
        assert!(ensure_one_group([hour.as_str(), client.as_str()]).is_ok());
        assert!(ensure_one_group(["alone", "alone"]).is_ok());
        assert!(ensure_one_group(["alone"]).is_ok());
        assert!(ensure_one_group([]).is_ok());

        let error = ensure_one_group([hour.as_str(), "send:global-hour"]).expect_err("mixed");
        assert!(error.to_string().contains("send:global-hour"), "{error}");
        assert!(ensure_one_group(["a", "b"]).is_err());
        assert!(ensure_one_group([hour.as_str(), "{check}:x"]).is_err());
        // An empty tag is no group (Redis then hashes the whole key too).
        assert!(ensure_one_group(["{}:a", "{}:b"]).is_err());
    }
}
