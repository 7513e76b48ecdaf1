//! Every scenario in both modes: embedded, and on the real servers.

/// Runs each `async fn scenario(backends: Backends)` named as two tests,
/// `embedded::scenario` and `servers::scenario`; invoke once per test file.
macro_rules! in_both_modes {
    ($($scenario:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::support::Backends::Embedded).await;
                }
            )+
        }

        mod servers {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::support::Backends::Servers).await;
                }
            )+
        }
    };
}
pub(crate) use in_both_modes;
