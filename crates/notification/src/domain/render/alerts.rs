//! Security alerts: one subject and one summary per kind of event, set in a frame that tells
//! the reader what to do if it was not them.

use std::collections::HashMap;

use mi_contracts::Channel;
use mi_platform::contact::mask as mask_contact;
use minijinja::context;
use serde::Deserialize;

use super::Templates;
use crate::domain::{AlertKind, OutgoingMessage, SecurityAlert};

/// One locale's `[alerts]` table.
#[derive(Debug, Deserialize)]
pub(super) struct AlertCatalog {
    /// The email around a summary, ending with what to do if it was not them.
    email_body: String,
    /// The SMS around a summary, with the same advice in short.
    sms: String,
    /// Shown for a device the person never named and whose model is unknown.
    unknown_device: String,
    /// Shown when identity could not tell where a sign-in came from.
    unknown_address: String,
    /// How each second-factor method is called; an unknown method shows its raw name.
    two_factor_methods: HashMap<String, String>,
    password_changed: AlertText,
    password_reset: AlertText,
    password_failures: AlertText,
    second_factor_failures: AlertText,
    two_factor_enabled: AlertText,
    two_factor_disabled: AlertText,
    recovery_contact_added: AlertText,
    recovery_contact_removed: AlertText,
    new_device_sign_in: AlertText,
    device_linked: AlertText,
    device_removed: AlertText,
    find_device_disabled: AlertText,
    lost_mode_on: AlertText,
    lost_mode_off: AlertText,
    erase_issued: AlertText,
    device_erased: AlertText,
}

/// The words of one kind of alert.
#[derive(Debug, Deserialize)]
struct AlertText {
    subject: String,
    summary: String,
}

impl AlertCatalog {
    fn method_name<'a>(&'a self, method: &'a str) -> &'a str {
        self.two_factor_methods
            .get(method)
            .map_or(method, String::as_str)
    }

    /// "Name (Model)", whichever of the two is known, or the catalog's word for neither.
    fn device(&self, name: &str, model: &str) -> String {
        let described = match (name.trim(), model.trim()) {
            ("", "") => return self.unknown_device.clone(),
            (name, "") => name.to_owned(),
            ("", model) => model.to_owned(),
            (name, model) if name == model => name.to_owned(),
            (name, model) => format!("{name} ({model})"),
        };
        // The client wrote these words: quoted and escaped, they read as one value and never as
        // the alert's own sentences or a line of their own (identity refuses control and format
        // characters; this holds for events from before it did too).
        format!("{described:?}")
    }
}

impl Templates {
    /// The alert written for one of the account's contacts, in `locale`.
    pub(crate) fn alert_message(
        &self,
        locale: &str,
        destination: &str,
        channel: Channel,
        alert: &SecurityAlert,
    ) -> anyhow::Result<OutgoingMessage> {
        let catalog = &self.catalog(locale).alerts;
        let mi_id = alert.mi_id;
        let (text, values) = match &alert.kind {
            AlertKind::PasswordChanged { reset: false } => {
                (&catalog.password_changed, context! { mi_id })
            }
            AlertKind::PasswordChanged { reset: true } => {
                (&catalog.password_reset, context! { mi_id })
            }
            AlertKind::PasswordFailures { failures } => {
                (&catalog.password_failures, context! { mi_id, failures })
            }
            AlertKind::SecondFactorFailures { failures } => (
                &catalog.second_factor_failures,
                context! { mi_id, failures },
            ),
            AlertKind::TwoFactorEnabled { method } => (
                &catalog.two_factor_enabled,
                context! { mi_id, method => catalog.method_name(method) },
            ),
            AlertKind::TwoFactorDisabled { method } => (
                &catalog.two_factor_disabled,
                context! { mi_id, method => catalog.method_name(method) },
            ),
            AlertKind::RecoveryContactAdded { contact } => (
                &catalog.recovery_contact_added,
                context! { mi_id, contact => mask_contact(contact) },
            ),
            AlertKind::RecoveryContactRemoved { contact } => (
                &catalog.recovery_contact_removed,
                context! { mi_id, contact => mask_contact(contact) },
            ),
            AlertKind::NewDeviceSignIn {
                device_name,
                device_model,
                client_address,
            } => {
                let address = match client_address.trim() {
                    "" => catalog.unknown_address.as_str(),
                    known => known,
                };
                let device = catalog.device(device_name, device_model);
                (
                    &catalog.new_device_sign_in,
                    context! { mi_id, device, address },
                )
            }
            AlertKind::DeviceLinked {
                device_name,
                device_model,
            } => {
                let device = catalog.device(device_name, device_model);
                (&catalog.device_linked, context! { mi_id, device })
            }
            AlertKind::DeviceRemoved { device_name } => {
                let device = catalog.device(device_name, "");
                (&catalog.device_removed, context! { mi_id, device })
            }
            AlertKind::FindDeviceDisabled { device_name } => {
                let device = catalog.device(device_name, "");
                (&catalog.find_device_disabled, context! { mi_id, device })
            }
            AlertKind::LostModeChanged {
                device_name,
                enabled,
            } => {
                let device = catalog.device(device_name, "");
                let text = if *enabled {
                    &catalog.lost_mode_on
                } else {
                    &catalog.lost_mode_off
                };
                (text, context! { mi_id, device })
            }
            AlertKind::EraseIssued { device_name } => {
                let device = catalog.device(device_name, "");
                (&catalog.erase_issued, context! { mi_id, device })
            }
            AlertKind::DeviceErased { device_name } => {
                let device = catalog.device(device_name, "");
                (&catalog.device_erased, context! { mi_id, device })
            }
        };
        let summary = self.render(&text.summary, &values)?;
        // Alerts go to phones as text; a voice channel never comes from a contact.
        let frame = match channel {
            Channel::Email => &catalog.email_body,
            Channel::Sms | Channel::Voice => &catalog.sms,
            Channel::Push => anyhow::bail!("security alerts go to contacts, never by push"),
        };
        Ok(OutgoingMessage {
            destination: destination.to_owned(),
            channel,
            subject: self.render(&text.subject, &values)?,
            body: self.render(frame, &context! { summary })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use mi_contracts::MiId;

    use super::*;

    const PHONE: &str = "+8613800000000";
    const EMAIL: &str = "jane.doe@example.com";

    fn render(locale: &str, destination: &str, kind: AlertKind) -> OutgoingMessage {
        let alert = SecurityAlert {
            mi_id: MiId::new(1_234_567_890).expect("Mi ID"),
            kind,
        };
        Templates::built_in()
            .expect("templates")
            .alert_message(
                locale,
                destination,
                Channel::for_contact(destination),
                &alert,
            )
            .expect("render")
    }

    fn every_kind() -> Vec<AlertKind> {
        vec![
            AlertKind::PasswordChanged { reset: false },
            AlertKind::PasswordChanged { reset: true },
            AlertKind::PasswordFailures { failures: 5 },
            AlertKind::SecondFactorFailures { failures: 10 },
            AlertKind::TwoFactorEnabled {
                method: "totp".into(),
            },
            AlertKind::TwoFactorDisabled {
                method: "code".into(),
            },
            AlertKind::RecoveryContactAdded {
                contact: PHONE.into(),
            },
            AlertKind::RecoveryContactRemoved {
                contact: EMAIL.into(),
            },
            AlertKind::NewDeviceSignIn {
                device_name: String::new(),
                device_model: String::new(),
                client_address: String::new(),
            },
        ]
        .into_iter()
        .chain(device_kinds("Lei's phone"))
        .collect()
    }

    /// Every alert about a device, for a device named `name`.
    fn device_kinds(name: &str) -> Vec<AlertKind> {
        let device_name = name.to_owned();
        vec![
            AlertKind::DeviceLinked {
                device_name: device_name.clone(),
                device_model: "Redmi Note 13".into(),
            },
            AlertKind::DeviceRemoved {
                device_name: device_name.clone(),
            },
            AlertKind::FindDeviceDisabled {
                device_name: device_name.clone(),
            },
            AlertKind::LostModeChanged {
                device_name: device_name.clone(),
                enabled: true,
            },
            AlertKind::LostModeChanged {
                device_name: device_name.clone(),
                enabled: false,
            },
            AlertKind::EraseIssued {
                device_name: device_name.clone(),
            },
            AlertKind::DeviceErased { device_name },
        ]
    }

    #[test]
    fn every_alert_renders_in_every_locale_and_says_to_reset_the_password() {
        for (locale, advice) in [("en", "reset your password"), ("zh-CN", "重置密码")] {
            for kind in every_kind() {
                for destination in [PHONE, EMAIL] {
                    let message = render(locale, destination, kind.clone());
                    assert!(
                        message.body.to_lowercase().contains(advice),
                        "{locale} {kind:?}: {}",
                        message.body
                    );
                    assert!(
                        message.body.contains("1234567890"),
                        "{locale} {kind:?}: {}",
                        message.body
                    );
                    assert!(!message.subject.is_empty());
                }
            }
        }
    }

    #[test]
    fn english_password_change_and_reset_read_differently() {
        let changed = render("en", PHONE, AlertKind::PasswordChanged { reset: false });
        assert!(changed.body.starts_with("[Mi Account]"), "{}", changed.body);
        assert!(
            changed.body.contains("was just changed"),
            "{}",
            changed.body
        );
        assert_eq!(changed.channel, Channel::Sms);
        let reset = render("en", EMAIL, AlertKind::PasswordChanged { reset: true });
        assert_eq!(reset.subject, "Your Mi Account password was reset");
        assert!(reset.body.contains("Forgot password"), "{}", reset.body);
        assert_eq!(reset.channel, Channel::Email);
    }

    #[test]
    fn chinese_is_chosen_by_locale_and_language() {
        for locale in ["zh-CN", "zh_cn", "zh"] {
            let message = render(locale, PHONE, AlertKind::PasswordChanged { reset: false });
            assert!(message.body.starts_with("【小米账号】"), "{locale}");
            assert!(message.body.contains("密码刚刚被修改"), "{locale}");
            assert!(message.body.contains("如非本人操作"), "{locale}");
        }
    }

    #[test]
    fn recovery_contacts_are_masked() {
        let added = AlertKind::RecoveryContactAdded {
            contact: PHONE.into(),
        };
        for locale in ["en", "zh-CN"] {
            let message = render(locale, EMAIL, added.clone());
            assert!(message.body.contains("+86 138****0000"), "{}", message.body);
            assert!(!message.body.contains(PHONE), "{}", message.body);
        }
        let removed = AlertKind::RecoveryContactRemoved {
            contact: EMAIL.into(),
        };
        for locale in ["en", "zh-CN"] {
            let message = render(locale, PHONE, removed.clone());
            assert!(
                message.body.contains("ja***@example.com"),
                "{}",
                message.body
            );
            assert!(!message.body.contains(EMAIL), "{}", message.body);
        }
    }

    #[test]
    fn password_failures_say_how_many_and_two_factor_names_the_method() {
        let failures = AlertKind::PasswordFailures { failures: 5 };
        let english = render("en", EMAIL, failures.clone());
        assert!(english.body.contains("5 times"), "{}", english.body);
        assert!(english.body.contains("CAPTCHA"), "{}", english.body);
        let chinese = render("zh-CN", PHONE, failures);
        assert!(chinese.body.contains("5 次"), "{}", chinese.body);

        let enabled = AlertKind::TwoFactorEnabled {
            method: "totp".into(),
        };
        assert!(
            render("en", EMAIL, enabled.clone())
                .body
                .contains("authenticator app")
        );
        assert!(render("zh-CN", EMAIL, enabled).body.contains("身份验证器"));
        let disabled = AlertKind::TwoFactorDisabled {
            method: "code".into(),
        };
        assert!(
            render("en", EMAIL, disabled.clone())
                .body
                .contains("SMS or email")
        );
        assert!(
            render("zh-CN", EMAIL, disabled)
                .body
                .contains("短信或邮件验证码")
        );
        let unknown = AlertKind::TwoFactorEnabled {
            method: "passkey".into(),
        };
        assert!(render("en", EMAIL, unknown).body.contains("passkey"));
    }

    #[test]
    fn new_device_sign_in_names_device_and_address() {
        let signed_in = AlertKind::NewDeviceSignIn {
            device_name: "Lei's phone".into(),
            device_model: "Redmi Note 13".into(),
            client_address: "203.0.113.7".into(),
        };
        let english = render("en", EMAIL, signed_in.clone());
        assert!(
            english.body.contains("Lei's phone (Redmi Note 13)"),
            "{}",
            english.body
        );
        assert!(english.body.contains("203.0.113.7"), "{}", english.body);
        let chinese = render("zh-CN", PHONE, signed_in);
        assert!(chinese.body.contains("新设备"), "{}", chinese.body);
        assert!(chinese.body.contains("Redmi Note 13"), "{}", chinese.body);

        let unnamed = AlertKind::NewDeviceSignIn {
            device_name: String::new(),
            device_model: "Xiaomi 14".into(),
            client_address: String::new(),
        };
        let message = render("en", EMAIL, unnamed);
        assert!(
            message.body.contains("device: \"Xiaomi 14\","),
            "{}",
            message.body
        );
        assert!(
            message.body.contains("IP address unknown"),
            "{}",
            message.body
        );
    }

    #[test]
    fn a_device_name_cannot_write_its_own_line() {
        let forged = AlertKind::NewDeviceSignIn {
            device_name: "Phone\nCall +1 900 555 0100 now\u{202e}".into(),
            device_model: String::new(),
            client_address: "203.0.113.7".into(),
        };
        let message = render("en", EMAIL, forged);
        assert!(
            message
                .body
                .contains(r#"device: "Phone\nCall +1 900 555 0100 now\u{202e}","#),
            "{}",
            message.body
        );
        assert!(!message.body.lines().any(|line| line.starts_with("Call")));
    }

    #[test]
    fn every_device_alert_names_the_device_and_reads_its_own_in_both_locales() {
        for locale in ["en", "zh-CN"] {
            let mut subjects = Vec::new();
            for kind in device_kinds("Lei's phone") {
                for destination in [PHONE, EMAIL] {
                    let message = render(locale, destination, kind.clone());
                    assert!(
                        message.body.contains("\"Lei's phone"),
                        "{locale} {kind:?}: {}",
                        message.body
                    );
                    assert!(
                        message.body.contains("1234567890"),
                        "{locale} {kind:?}: {}",
                        message.body
                    );
                }
                subjects.push(render(locale, EMAIL, kind).subject);
            }
            let mut distinct = subjects.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), subjects.len(), "{locale}: {subjects:?}");
        }
    }

    #[test]
    fn device_alerts_say_what_happened() {
        let english = |kind| render("en", EMAIL, kind).body;
        let chinese = |kind| render("zh-CN", PHONE, kind).body;
        let name = || "Lei's phone".to_owned();
        let cases = [
            (
                AlertKind::DeviceLinked {
                    device_name: name(),
                    device_model: "Redmi Note 13".into(),
                },
                "was linked",
                "关联",
            ),
            (
                AlertKind::DeviceRemoved {
                    device_name: name(),
                },
                "was removed",
                "移除",
            ),
            (
                AlertKind::FindDeviceDisabled {
                    device_name: name(),
                },
                "Find Device was turned off",
                "关闭了查找设备",
            ),
            (
                AlertKind::LostModeChanged {
                    device_name: name(),
                    enabled: true,
                },
                "is now in Lost Mode",
                "已进入丢失模式",
            ),
            (
                AlertKind::LostModeChanged {
                    device_name: name(),
                    enabled: false,
                },
                "Lost Mode was turned off",
                "已退出丢失模式",
            ),
            (
                AlertKind::EraseIssued {
                    device_name: name(),
                },
                "erase was requested",
                "请求清除",
            ),
            (
                AlertKind::DeviceErased {
                    device_name: name(),
                },
                "was erased",
                "已被清除",
            ),
        ];
        for (kind, in_english, in_chinese) in cases {
            let body = english(kind.clone());
            assert!(body.contains(in_english), "{kind:?}: {body}");
            let body = chinese(kind.clone());
            assert!(body.contains(in_chinese), "{kind:?}: {body}");
        }
        let linked = english(AlertKind::DeviceLinked {
            device_name: name(),
            device_model: "Redmi Note 13".into(),
        });
        assert!(linked.contains("Lei's phone (Redmi Note 13)"), "{linked}");
        let unnamed = english(AlertKind::DeviceErased {
            device_name: String::new(),
        });
        assert!(unnamed.contains("unnamed device"), "{unnamed}");
    }

    #[test]
    fn alerts_never_go_by_push() {
        let alert = SecurityAlert {
            mi_id: MiId::new(1_234_567_890).expect("Mi ID"),
            kind: AlertKind::DeviceErased {
                device_name: "phone".into(),
            },
        };
        let templates = Templates::built_in().expect("templates");
        assert!(
            templates
                .alert_message("en", "push-token", Channel::Push, &alert)
                .is_err()
        );
    }
}
