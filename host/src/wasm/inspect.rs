//! What a component imports and exports, checked against the contract
//! before anything runs.
//!
//! A policy exports any subset of the hook interfaces (and the tenant
//! resolver); the host learns
//! which from the component's type. Its imports must all be things the host
//! provides: `rmqtt:hooks/host` (and `types`) at the same version, and WASI.

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::Engine;

use super::bindings::v0_1;
use super::error::LoadError;
use super::state::StoreState;
use crate::hooks::HookKind;

/// Which hook interfaces a policy exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exports {
    pub authenticate: bool,
    pub authorize_subscribe: bool,
    pub authorize_publish: bool,
    pub events: bool,
    /// `tenant-resolver`: not a hook, bound with `Broker::set_tenant_resolver`.
    pub tenant_resolver: bool,
}

impl Exports {
    /// Whether the policy exports nothing the host knows.
    pub fn is_empty(&self) -> bool {
        *self == Exports::default()
    }

    /// Whether the policy can answer `kind`.
    pub fn serves(&self, kind: HookKind) -> bool {
        match kind {
            HookKind::ClientAuthenticate => self.authenticate,
            HookKind::ClientSubscribeAuthorize => self.authorize_subscribe,
            HookKind::ClientPublishAuthorize => self.authorize_publish,
            _ => self.events,
        }
    }

    /// The hooks the policy can answer, in [`HookKind::ALL`] order
    /// (`events` stands for all 14 notification hooks).
    pub fn hooks(&self) -> Vec<HookKind> {
        HookKind::ALL
            .into_iter()
            .filter(|k| self.serves(*k))
            .collect()
    }
}

/// `ns:pkg/iface@version` split into (`ns:pkg`, `iface`, `version`).
fn split_name(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (pkg, rest) = name.split_once('/')?;
    if !pkg.contains(':') {
        return None;
    }
    Some(match rest.split_once('@') {
        Some((iface, version)) => (pkg, iface, Some(version)),
        None => (pkg, rest, None),
    })
}

const HOOK_INTERFACES: [&str; 5] = [
    "authenticate",
    "authorize-subscribe",
    "authorize-publish",
    "events",
    "tenant-resolver",
];

fn wrong_version(found: &str, detail: impl Into<String>) -> LoadError {
    LoadError::WitVersion {
        found: found.to_string(),
        expected: v0_1::VERSION,
        detail: detail.into(),
    }
}

/// Checks the component's imports by name (the linker checks their types).
fn check_imports(engine: &Engine, component: &Component) -> Result<(), LoadError> {
    for (name, _) in component.component_type().imports(engine) {
        match split_name(name) {
            Some((pkg, _, version)) if pkg == v0_1::PACKAGE => {
                if version != Some(v0_1::VERSION) {
                    return Err(wrong_version(name, format!("it imports `{name}`")));
                }
                if !v0_1::IMPORTABLE.contains(&name) {
                    return Err(LoadError::UnsatisfiedImport {
                        import: name.to_string(),
                        detail: String::new(),
                    });
                }
            }
            // Checked by the linker, which knows the WASI versions it has.
            Some((pkg, _, _)) if pkg.starts_with("wasi:") => {}
            _ => {
                return Err(LoadError::UnsatisfiedImport {
                    import: name.to_string(),
                    detail: String::new(),
                })
            }
        }
    }
    Ok(())
}

/// Finds the hook interfaces among the component's exports.
fn find_exports(engine: &Engine, component: &Component) -> Result<Exports, LoadError> {
    let mut exports = Exports::default();
    let mut names = Vec::new();
    let mut foreign_hook = None;
    for (name, _) in component.component_type().exports(engine) {
        names.push(name.to_string());
        match name {
            v0_1::AUTHENTICATE => exports.authenticate = true,
            v0_1::AUTHORIZE_SUBSCRIBE => exports.authorize_subscribe = true,
            v0_1::AUTHORIZE_PUBLISH => exports.authorize_publish = true,
            v0_1::EVENTS => exports.events = true,
            v0_1::TENANT_RESOLVER => exports.tenant_resolver = true,
            _ => {
                if let Some((pkg, iface, _)) = split_name(name) {
                    if pkg == v0_1::PACKAGE || HOOK_INTERFACES.contains(&iface) {
                        foreign_hook.get_or_insert_with(|| name.to_string());
                    }
                }
            }
        }
    }
    if exports.is_empty() {
        return Err(match foreign_hook {
            Some(found) => wrong_version(&found, format!("it exports `{found}`")),
            None => LoadError::NoExports { exports: names },
        });
    }
    Ok(exports)
}

/// The result of inspecting and pre-instantiating a component.
pub(crate) struct Inspected {
    pub(crate) exports: Exports,
    pub(crate) pre: InstancePre<StoreState>,
    pub(crate) indices: ExportIndices,
}

/// Where each exported interface's functions are, for the exports present.
#[derive(Clone)]
pub(crate) struct ExportIndices {
    pub(crate) authenticate: Option<v0_1::authenticate::GuestIndices>,
    pub(crate) authorize_subscribe: Option<v0_1::authorize_subscribe::GuestIndices>,
    pub(crate) authorize_publish: Option<v0_1::authorize_publish::GuestIndices>,
    pub(crate) events: Option<v0_1::events::GuestIndices>,
    pub(crate) tenant_resolver: Option<v0_1::tenant_resolver::GuestIndices>,
}

/// Checks imports and exports, resolves the imports with `linker`.
pub(crate) fn inspect(
    engine: &Engine,
    linker: &Linker<StoreState>,
    component: &Component,
) -> Result<Inspected, LoadError> {
    check_imports(engine, component)?;
    let exports = find_exports(engine, component)?;
    let pre = linker.instantiate_pre(component).map_err(|e| {
        let detail = format!("{e:#}");
        let import = component
            .component_type()
            .imports(engine)
            .map(|(name, _)| name.to_string())
            .find(|name| detail.contains(&format!("`{name}`")))
            .unwrap_or_else(|| "?".to_string());
        LoadError::UnsatisfiedImport { import, detail }
    })?;
    let mismatch = |iface: &'static str| {
        move |e: wasmtime::Error| {
            wrong_version(
                iface,
                format!("`{iface}` does not match the contract: {e:#}"),
            )
        }
    };
    let indices = ExportIndices {
        authenticate: exports
            .authenticate
            .then(|| v0_1::authenticate::GuestIndices::new(&pre))
            .transpose()
            .map_err(mismatch(v0_1::AUTHENTICATE))?,
        authorize_subscribe: exports
            .authorize_subscribe
            .then(|| v0_1::authorize_subscribe::GuestIndices::new(&pre))
            .transpose()
            .map_err(mismatch(v0_1::AUTHORIZE_SUBSCRIBE))?,
        authorize_publish: exports
            .authorize_publish
            .then(|| v0_1::authorize_publish::GuestIndices::new(&pre))
            .transpose()
            .map_err(mismatch(v0_1::AUTHORIZE_PUBLISH))?,
        events: exports
            .events
            .then(|| v0_1::events::GuestIndices::new(&pre))
            .transpose()
            .map_err(mismatch(v0_1::EVENTS))?,
        tenant_resolver: exports
            .tenant_resolver
            .then(|| v0_1::tenant_resolver::GuestIndices::new(&pre))
            .transpose()
            .map_err(mismatch(v0_1::TENANT_RESOLVER))?,
    };
    Ok(Inspected {
        exports,
        pre,
        indices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_split_into_package_interface_version() {
        assert_eq!(
            split_name("rmqtt:hooks/host@0.1.0"),
            Some(("rmqtt:hooks", "host", Some("0.1.0")))
        );
        assert_eq!(
            split_name("wasi:cli/stdout"),
            Some(("wasi:cli", "stdout", None))
        );
        assert_eq!(split_name("plain"), None);
    }

    #[test]
    fn events_stand_for_every_notification_hook() {
        let only_events = Exports {
            events: true,
            ..Exports::default()
        };
        assert_eq!(only_events.hooks().len(), 14);
        let only_auth = Exports {
            authenticate: true,
            ..Exports::default()
        };
        assert_eq!(only_auth.hooks(), vec![HookKind::ClientAuthenticate]);
    }
}
