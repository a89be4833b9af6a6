//! What a component imports and exports, checked against the contract
//! before anything runs.
//!
//! A policy exports any subset of the hook interfaces (and the tenant
//! resolver); the host learns
//! which from the component's type. Its imports must all be things the host
//! provides: `rmqtt:hooks/host` (and `types`, and from 0.2.0 `data` and
//! `crypto`) at one version the host speaks (0.1.0 or 0.2.0), and WASI.

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::Engine;

use super::bindings::{v0_1, v0_2};
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

const HOOK_INTERFACES: [&str; 6] = [
    "authenticate",
    "authorize-subscribe",
    "authorize-publish",
    "events",
    "tenant-resolver",
    "lifecycle",
];

/// A version of the contract the host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WitVersion {
    V0_1,
    V0_2,
}

impl WitVersion {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WitVersion::V0_1 => v0_1::VERSION,
            WitVersion::V0_2 => v0_2::VERSION,
        }
    }

    fn of(version: &str) -> Option<WitVersion> {
        match version {
            v0_1::VERSION => Some(WitVersion::V0_1),
            v0_2::VERSION => Some(WitVersion::V0_2),
            _ => None,
        }
    }

    fn importable(self) -> &'static [&'static str] {
        match self {
            WitVersion::V0_1 => &v0_1::IMPORTABLE,
            WitVersion::V0_2 => &v0_2::IMPORTABLE,
        }
    }

    /// The export interface `name` of this version, if it is one.
    fn export(self, name: &str) -> Option<&'static str> {
        let names: &[&'static str] = match self {
            WitVersion::V0_1 => &[
                v0_1::AUTHENTICATE,
                v0_1::AUTHORIZE_SUBSCRIBE,
                v0_1::AUTHORIZE_PUBLISH,
                v0_1::EVENTS,
                v0_1::TENANT_RESOLVER,
            ],
            WitVersion::V0_2 => &[
                v0_2::AUTHENTICATE,
                v0_2::AUTHORIZE_SUBSCRIBE,
                v0_2::AUTHORIZE_PUBLISH,
                v0_2::EVENTS,
                v0_2::TENANT_RESOLVER,
                v0_2::LIFECYCLE,
            ],
        };
        names.iter().copied().find(|n| *n == name)
    }
}

/// Every version the host loads, newest first (as error messages list them).
const SPOKEN: &str = "0.2.0 or 0.1.0";

fn wrong_version(found: &str, detail: impl Into<String>) -> LoadError {
    LoadError::WitVersion {
        found: found.to_string(),
        expected: SPOKEN,
        detail: detail.into(),
    }
}

/// Checks the component's imports by name (the linker checks their types)
/// and returns the contract version they use, if they name one.
fn check_imports(engine: &Engine, component: &Component) -> Result<Option<WitVersion>, LoadError> {
    let mut seen: Option<(WitVersion, String)> = None;
    for (name, _) in component.component_type().imports(engine) {
        match split_name(name) {
            Some((pkg, _, version)) if pkg == v0_1::PACKAGE => {
                let Some(v) = version.and_then(WitVersion::of) else {
                    return Err(wrong_version(name, format!("it imports `{name}`")));
                };
                if !v.importable().contains(&name) {
                    return Err(LoadError::UnsatisfiedImport {
                        import: name.to_string(),
                        detail: String::new(),
                    });
                }
                match &seen {
                    Some((other, first)) if *other != v => {
                        return Err(wrong_version(
                            name,
                            format!(
                                "it imports both `{first}` and `{name}`: one version per policy"
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => seen = Some((v, name.to_string())),
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
    Ok(seen.map(|(v, _)| v))
}

/// Finds the hook interfaces among the component's exports, and the one
/// contract version they all use.
fn find_exports(
    engine: &Engine,
    component: &Component,
    imported: Option<WitVersion>,
) -> Result<(Exports, WitVersion, bool), LoadError> {
    let mut exports = Exports::default();
    let mut lifecycle = false;
    let mut names = Vec::new();
    let mut foreign_hook = None;
    let mut version: Option<WitVersion> = imported;
    for (name, _) in component.component_type().exports(engine) {
        names.push(name.to_string());
        let known = [WitVersion::V0_2, WitVersion::V0_1]
            .into_iter()
            .find_map(|v| v.export(name).map(|n| (v, n)));
        let Some((v, _)) = known else {
            if let Some((pkg, iface, _)) = split_name(name) {
                if pkg == v0_1::PACKAGE || HOOK_INTERFACES.contains(&iface) {
                    foreign_hook.get_or_insert_with(|| name.to_string());
                }
            }
            continue;
        };
        match version {
            Some(other) if other != v => {
                return Err(wrong_version(
                    name,
                    format!(
                        "it exports `{name}` but speaks {} elsewhere: one version per policy",
                        other.as_str()
                    ),
                ));
            }
            _ => version = Some(v),
        }
        let iface = split_name(name).map_or("", |(_, i, _)| i);
        match iface {
            "authenticate" => exports.authenticate = true,
            "authorize-subscribe" => exports.authorize_subscribe = true,
            "authorize-publish" => exports.authorize_publish = true,
            "events" => exports.events = true,
            "tenant-resolver" => exports.tenant_resolver = true,
            "lifecycle" => lifecycle = true,
            _ => {}
        }
    }
    match version {
        Some(v) if !exports.is_empty() => Ok((exports, v, lifecycle)),
        _ => Err(match foreign_hook {
            Some(found) => wrong_version(&found, format!("it exports `{found}`")),
            None => LoadError::NoExports { exports: names },
        }),
    }
}

/// The result of inspecting and pre-instantiating a component.
pub(crate) struct Inspected {
    pub(crate) exports: Exports,
    pub(crate) version: WitVersion,
    pub(crate) pre: InstancePre<StoreState>,
    pub(crate) indices: ExportIndices,
}

/// Where each exported interface's functions are, for the exports present.
#[derive(Clone)]
pub(crate) enum ExportIndices {
    V0_1(IndicesV0_1),
    V0_2(IndicesV0_2),
}

#[derive(Clone)]
pub(crate) struct IndicesV0_1 {
    pub(crate) authenticate: Option<v0_1::authenticate::GuestIndices>,
    pub(crate) authorize_subscribe: Option<v0_1::authorize_subscribe::GuestIndices>,
    pub(crate) authorize_publish: Option<v0_1::authorize_publish::GuestIndices>,
    pub(crate) events: Option<v0_1::events::GuestIndices>,
    pub(crate) tenant_resolver: Option<v0_1::tenant_resolver::GuestIndices>,
}

#[derive(Clone)]
pub(crate) struct IndicesV0_2 {
    pub(crate) lifecycle: Option<v0_2::lifecycle::GuestIndices>,
    pub(crate) authenticate: Option<v0_2::authenticate::GuestIndices>,
    pub(crate) authorize_subscribe: Option<v0_2::authorize_subscribe::GuestIndices>,
    pub(crate) authorize_publish: Option<v0_2::authorize_publish::GuestIndices>,
    pub(crate) events: Option<v0_2::events::GuestIndices>,
    pub(crate) tenant_resolver: Option<v0_2::tenant_resolver::GuestIndices>,
}

/// Looks up one export interface's indices when the component has it.
macro_rules! indices_of {
    ($pre:expr, $present:expr, $module:path, $name:expr) => {{
        use $module as m;
        $present
            .then(|| m::GuestIndices::new($pre))
            .transpose()
            .map_err(|e: wasmtime::Error| {
                wrong_version(
                    $name,
                    format!("`{}` does not match the contract: {e:#}", $name),
                )
            })?
    }};
}

/// Checks imports and exports, resolves the imports with `linker`.
pub(crate) fn inspect(
    engine: &Engine,
    linker: &Linker<StoreState>,
    component: &Component,
) -> Result<Inspected, LoadError> {
    let imported = check_imports(engine, component)?;
    let (exports, version, lifecycle) = find_exports(engine, component, imported)?;
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
    let e = exports;
    let indices = match version {
        WitVersion::V0_1 => ExportIndices::V0_1(IndicesV0_1 {
            authenticate: indices_of!(&pre, e.authenticate, v0_1::authenticate, v0_1::AUTHENTICATE),
            authorize_subscribe: indices_of!(
                &pre,
                e.authorize_subscribe,
                v0_1::authorize_subscribe,
                v0_1::AUTHORIZE_SUBSCRIBE
            ),
            authorize_publish: indices_of!(
                &pre,
                e.authorize_publish,
                v0_1::authorize_publish,
                v0_1::AUTHORIZE_PUBLISH
            ),
            events: indices_of!(&pre, e.events, v0_1::events, v0_1::EVENTS),
            tenant_resolver: indices_of!(
                &pre,
                e.tenant_resolver,
                v0_1::tenant_resolver,
                v0_1::TENANT_RESOLVER
            ),
        }),
        WitVersion::V0_2 => ExportIndices::V0_2(IndicesV0_2 {
            lifecycle: indices_of!(&pre, lifecycle, v0_2::lifecycle, v0_2::LIFECYCLE),
            authenticate: indices_of!(&pre, e.authenticate, v0_2::authenticate, v0_2::AUTHENTICATE),
            authorize_subscribe: indices_of!(
                &pre,
                e.authorize_subscribe,
                v0_2::authorize_subscribe,
                v0_2::AUTHORIZE_SUBSCRIBE
            ),
            authorize_publish: indices_of!(
                &pre,
                e.authorize_publish,
                v0_2::authorize_publish,
                v0_2::AUTHORIZE_PUBLISH
            ),
            events: indices_of!(&pre, e.events, v0_2::events, v0_2::EVENTS),
            tenant_resolver: indices_of!(
                &pre,
                e.tenant_resolver,
                v0_2::tenant_resolver,
                v0_2::TENANT_RESOLVER
            ),
        }),
    };
    Ok(Inspected {
        exports,
        version,
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
