//! Loading: precise errors, the compiled-component caches, isolation of
//! policies loaded from the same bytes.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use rmqtt_js_host::hooks::HookBackend;
use rmqtt_js_host::wasm::{clear_memory_cache, CacheSource, LoadError, LoadOptions, WasmPolicy};
use wasm_encoder::{
    ComponentBuilder, ComponentExportKind, ComponentTypeRef, InstanceType, PrimitiveValType,
};

use crate::wasm_support::{connect, guest, options};

async fn load_err(bytes: Vec<u8>) -> LoadError {
    WasmPolicy::load(bytes, options("bad"))
        .await
        .expect_err("the load must fail")
}

/// A component with `imports` (instances with one function `f`, or empty)
/// re-exporting empty imports: `exports` are (export name, import position).
/// (wasmtime refuses re-exported imported functions, so only empty instances
/// are re-exported.)
fn component(imports: &[(&str, bool)], exports: &[(&str, usize)]) -> Vec<u8> {
    let mut b = ComponentBuilder::default();
    let mut instances = Vec::new();
    for &(name, with_func) in imports {
        let mut ty = InstanceType::new();
        if with_func {
            ty.ty()
                .function()
                .params(std::iter::empty::<(&str, PrimitiveValType)>())
                .result(None);
            ty.export("f", ComponentTypeRef::Func(0));
        }
        let ty = b.type_instance(None, &ty);
        instances.push(b.import(name, ComponentTypeRef::Instance(ty)));
    }
    for &(name, from) in exports {
        b.export(name, ComponentExportKind::Instance, instances[from], None);
    }
    b.finish()
}

fn reexporting_component(import: &str, export: &str) -> Vec<u8> {
    component(&[(import, false)], &[(export, 0)])
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_is_not_a_policy() {
    let e = load_err(b"definitely not wasm".to_vec()).await;
    assert_eq!(e.code(), "ERR_POLICY_INVALID", "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_core_module_is_not_a_component() {
    let e = load_err(b"\0asm\x01\0\0\0".to_vec()).await;
    assert_eq!(e.code(), "ERR_POLICY_INVALID", "{e}");
    assert!(e.to_string().contains("core WebAssembly module"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_file_is_an_io_error() {
    let e = WasmPolicy::load(
        PathBuf::from("/nonexistent/policy.wasm"),
        options("missing"),
    )
    .await
    .expect_err("no such file");
    assert_eq!(e.code(), "ERR_POLICY_IO", "{e}");
    assert!(e.to_string().contains("/nonexistent/policy.wasm"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_component_exports_nothing_we_know() {
    let e = load_err(ComponentBuilder::default().finish()).await;
    assert_eq!(e.code(), "ERR_POLICY_NO_EXPORTS", "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_contract_version_is_refused() {
    let e = load_err(reexporting_component(
        "rmqtt:hooks/types@0.1.0",
        "rmqtt:hooks/authenticate@0.3.0",
    ))
    .await;
    assert_eq!(e.code(), "ERR_POLICY_WIT_VERSION", "{e}");
    assert!(
        e.to_string().contains("rmqtt:hooks/authenticate@0.3.0"),
        "{e}"
    );
    assert!(
        e.to_string().contains("0.2.0 or 0.1.0"),
        "names what the host speaks: {e}"
    );

    let e = load_err(reexporting_component(
        "rmqtt:hooks/host@0.3.0",
        "rmqtt:hooks/authenticate@0.1.0",
    ))
    .await;
    assert_eq!(e.code(), "ERR_POLICY_WIT_VERSION", "{e}");
    assert!(e.to_string().contains("rmqtt:hooks/host@0.3.0"), "{e}");

    // Two versions the host speaks, mixed in one component.
    let e = load_err(reexporting_component(
        "rmqtt:hooks/types@0.1.0",
        "rmqtt:hooks/authenticate@0.2.0",
    ))
    .await;
    assert_eq!(e.code(), "ERR_POLICY_WIT_VERSION", "{e}");
    assert!(e.to_string().contains("one version per policy"), "{e}");

    let e = load_err(reexporting_component(
        "rmqtt:hooks/types@0.1.0",
        "acme:policy/authenticate@1.0.0",
    ))
    .await;
    assert_eq!(e.code(), "ERR_POLICY_WIT_VERSION", "another package: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_the_host_lacks_is_named() {
    let e = load_err(component(
        &[
            ("rmqtt:hooks/types@0.1.0", false),
            ("acme:secrets/vault@1.0.0", true),
        ],
        &[("rmqtt:hooks/events@0.1.0", 0)],
    ))
    .await;
    assert_eq!(e.code(), "ERR_POLICY_UNSATISFIED_IMPORT", "{e}");
    assert!(
        matches!(&e, LoadError::UnsatisfiedImport { import, .. } if import == "acme:secrets/vault@1.0.0"),
        "{e:?}"
    );

    // A WASI interface the host does not provide (e.g. wasi:http).
    let e = load_err(component(
        &[
            ("rmqtt:hooks/types@0.1.0", false),
            ("wasi:http/types@0.2.0", true),
        ],
        &[("rmqtt:hooks/events@0.1.0", 0)],
    ))
    .await;
    assert_eq!(e.code(), "ERR_POLICY_UNSATISFIED_IMPORT", "{e}");
    assert!(
        matches!(&e, LoadError::UnsatisfiedImport { import, .. } if import == "wasi:http/types@0.2.0"),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_options_are_refused() {
    let bytes = std::fs::read(guest("rust-acl.wasm")).unwrap();
    let e = WasmPolicy::load(bytes, options("opts").max_instances(0))
        .await
        .expect_err("zero instances");
    assert_eq!(e.code(), "ERR_POLICY_OPTIONS", "{e}");
}

/// rust-acl's bytes plus a custom section naming this test run: a component
/// no other test (or earlier run) has compiled.
fn unique_rust_acl() -> Vec<u8> {
    let mut bytes = std::fs::read(guest("rust-acl.wasm")).unwrap();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("rmqtt-js-test-{}-{nanos}", std::process::id());
    let mut section = vec![u8::try_from(name.len()).unwrap()];
    section.extend_from_slice(name.as_bytes());
    bytes.push(0); // custom section id
    bytes.push(u8::try_from(section.len()).unwrap());
    bytes.extend_from_slice(&section);
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_components_are_cached_in_memory_and_on_disk() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-cache-disk-test");
    let opts = || LoadOptions::new("cached").cache_dir(&dir);
    let bytes = unique_rust_acl();

    let cold = WasmPolicy::load(bytes.clone(), opts()).await.unwrap();
    assert_eq!(cold.load_info().source, CacheSource::Compiled);
    assert!(!cold.loaded_from_cache());

    let warm = WasmPolicy::load(bytes.clone(), opts()).await.unwrap();
    assert!(warm.loaded_from_cache());
    assert_eq!(warm.load_info().source, CacheSource::Memory);
    assert_eq!(warm.load_info().digest, cold.load_info().digest);

    // Other tests only assert "a cache hit", which the disk still gives.
    clear_memory_cache();
    let from_disk = WasmPolicy::load(bytes, opts()).await.unwrap();
    assert_eq!(from_disk.load_info().source, CacheSource::Disk);
    assert!(
        from_disk
            .authenticate(connect(Some("alice"), Some("demo")))
            .await
            .unwrap()
            .allow
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_load_of_the_same_bytes_hits_the_cache() {
    let first = WasmPolicy::load(guest("rust-acl.wasm").as_path(), options("first"))
        .await
        .unwrap();
    let second = WasmPolicy::load(guest("rust-acl.wasm").as_path(), options("second"))
        .await
        .unwrap();
    assert!(second.loaded_from_cache(), "{:?}", second.load_info());
    let third = WasmPolicy::load(
        std::fs::read(guest("rust-acl.wasm")).unwrap(),
        options("third"),
    )
    .await
    .unwrap();
    assert!(third.loaded_from_cache(), "{:?}", third.load_info());
    assert_eq!(first.load_info().digest, third.load_info().digest);
}

#[tokio::test(flavor = "multi_thread")]
async fn policies_from_the_same_bytes_have_their_own_instances() {
    let a = WasmPolicy::load(guest("rust-acl.wasm").as_path(), options("a").tenant("t1"))
        .await
        .unwrap();
    let b = WasmPolicy::load(guest("rust-acl.wasm").as_path(), options("b").tenant("t2"))
        .await
        .unwrap();
    assert_eq!((a.tenant(), b.tenant()), (Some("t1"), Some("t2")));
    for _ in 0..3 {
        a.authenticate(connect(Some("alice"), Some("demo")))
            .await
            .unwrap();
    }
    assert_eq!(a.stats().calls, 3);
    assert_eq!(b.stats().calls, 0, "b's instances saw nothing of a's calls");
    assert_eq!(
        (a.stats().instances_created, b.stats().instances_created),
        (1, 1)
    );
}
