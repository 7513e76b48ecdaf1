//! The fuzzer's map of the API, read from the descriptor set the services serve for reflection:
//! every RPC of every service with its request message. A new RPC is fuzzed without a line here;
//! a new service must say where it listens ([`Target::of`]).

use std::collections::HashMap;
use std::net::SocketAddr;

use mi_account::Addresses;
use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorSet};

/// Which of the platform's ports serves a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Identity,
    Verification,
    Notification,
    Device,
}

impl Target {
    fn of(service: &str) -> Self {
        match service {
            "mi.identity.v1.IdentityService" => Self::Identity,
            "mi.verification.v1.VerificationService" => Self::Verification,
            "mi.notification.v1.NotificationService" => Self::Notification,
            "mi.device.v1.DeviceRegistryService" => Self::Device,
            other => panic!("the fuzzer does not know where {other} listens"),
        }
    }

    pub(super) fn address(self, addresses: &Addresses) -> SocketAddr {
        match self {
            Self::Identity => addresses.identity,
            Self::Verification => addresses.verification,
            Self::Notification => addresses.notification,
            Self::Device => addresses.device,
        }
    }
}

/// One RPC: its HTTP/2 path, its port, its request message's full name (`.pkg.Name`), and
/// whether it answers with a stream.
#[derive(Debug)]
pub(super) struct Method {
    pub path: String,
    pub target: Target,
    pub input: String,
    pub streaming: bool,
}

/// Every RPC and every message of the protos.
#[derive(Debug)]
pub(super) struct Schema {
    pub methods: Vec<Method>,
    messages: HashMap<String, DescriptorProto>,
}

impl Schema {
    pub(super) fn load() -> Self {
        let set = FileDescriptorSet::decode(mi_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut messages = HashMap::new();
        let mut methods = Vec::new();
        for file in &set.file {
            let package = file.package();
            for message in &file.message_type {
                collect(&format!(".{package}"), message, &mut messages);
            }
            for service in &file.service {
                let full_name = format!("{package}.{}", service.name());
                let target = Target::of(&full_name);
                methods.extend(service.method.iter().map(|method| Method {
                    path: format!("/{full_name}/{}", method.name()),
                    target,
                    input: method.input_type().to_owned(),
                    streaming: method.server_streaming(),
                }));
            }
        }
        Self { methods, messages }
    }

    /// A message by full name; `None` for one outside the set (well-known types may be).
    pub(super) fn message(&self, name: &str) -> Option<&DescriptorProto> {
        self.messages.get(name)
    }
}

fn collect(prefix: &str, message: &DescriptorProto, into: &mut HashMap<String, DescriptorProto>) {
    let name = format!("{prefix}.{}", message.name());
    for nested in &message.nested_type {
        collect(&name, nested, into);
    }
    into.insert(name, message.clone());
}
