//! Smoke test of the end-to-end fixture: a real registry, real images, a real sysroot.

mod support;

use support::{OsImages, Registry, Sysroot, Timings, RELEASE_A, RELEASE_B, RELEASE_C};

#[test]
fn fixture_registry_images_sysroot() {
    let mut t = Timings::new();
    let rt = support::runtime();

    let mut registry = Registry::start_new();
    t.step("registry started");

    let mut images = OsImages::new(&registry);
    for v in [RELEASE_A, RELEASE_B, RELEASE_C] {
        rt.block_on(images.release_async(v));
        t.step(&format!("release {v} built, encapsulated, pushed"));
    }
    let digests: Vec<String> = images.releases().iter().map(|r| r.digest.clone()).collect();
    assert_eq!(digests.len(), 3);
    assert!(
        digests[0] != digests[1] && digests[1] != digests[2] && digests[0] != digests[2],
        "releases must differ: {digests:?}"
    );

    images.tag(RELEASE_C, "stable");
    t.step("tagged stable at C");
    assert_eq!(
        registry.tags("os"),
        vec![
            RELEASE_A.to_string(),
            RELEASE_B.to_string(),
            RELEASE_C.to_string(),
            "stable".to_string()
        ]
    );

    let sysroot = rt.block_on(Sysroot::deployed_async(&images, RELEASE_A, "stable"));
    t.step("sysroot init + deploy A (pinned) tracking :stable");
    eprintln!("{}", sysroot.status());

    let port = registry.port();
    assert_eq!(
        sysroot.default_deployment_origin(),
        format!("ostree-unverified-registry:127.0.0.1:{port}/os:stable")
    );
    assert_eq!(
        sysroot.default_deployment_digest(),
        images.digest(RELEASE_A)
    );
    assert_eq!(sysroot.default_deployment_version(), RELEASE_A);
    let deployments = sysroot.deployments();
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0].stateroot, "default");
    assert_eq!(
        deployments[0].base_commit.as_deref(),
        Some(images.commit(RELEASE_A).as_str())
    );
    assert_ne!(
        sysroot.default_deployment_commit(),
        images.commit(RELEASE_A)
    );
    t.step("sysroot assertions");

    // skopeo (via --registries-conf, no TLS flag) sees the tag; then the registry goes away
    // and comes back on the same port with the same content.
    assert_eq!(
        registry.skopeo_inspect_digest("os:stable").unwrap(),
        images.digest(RELEASE_C)
    );
    registry.stop();
    let err = registry.skopeo_inspect_digest("os:stable").unwrap_err();
    assert!(err.contains("127.0.0.1"), "unexpected skopeo error: {err}");
    t.step("registry stopped, skopeo inspect fails");
    registry.start();
    assert_eq!(
        registry.skopeo_inspect_digest("os:stable").unwrap(),
        images.digest(RELEASE_C)
    );
    t.step("registry restarted, skopeo inspect works");

    // The skopeo wrapper on a child's PATH makes plain `skopeo` talk HTTP to the registry.
    let out = std::process::Command::new("skopeo")
        .env("PATH", registry.child_path_env())
        .arg("inspect")
        .arg(format!("docker://{}", images.image(RELEASE_B)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["Digest"].as_str(),
        Some(images.digest(RELEASE_B).as_str())
    );
    assert_eq!(
        v["Labels"]["org.opencontainers.image.version"].as_str(),
        Some(RELEASE_B)
    );

    assert_eq!(v["Labels"]["containers.bootc"].as_str(), Some("1"));
    assert_eq!(v["Labels"]["ostree.bootable"].as_str(), Some("true"));

    // Deploying by tag through the `skopeo --registries-conf` wrapper (the route a child
    // process with `child_path_env()` takes) instead of `--tls-verify=false`.
    let by_tag = Sysroot::init();
    let state = rt.block_on(by_tag.deploy_async(
        &images.imgref_tag("stable"),
        None,
        registry.proxy_config_via_registries_conf(),
    ));
    assert_eq!(state.manifest_digest.to_string(), images.digest(RELEASE_C));
    assert_eq!(by_tag.default_deployment_version(), RELEASE_C);
    assert_eq!(
        by_tag.default_deployment_origin(),
        format!("ostree-unverified-registry:127.0.0.1:{port}/os:stable")
    );
    drop(by_tag);
    t.step("second sysroot deployed on :stable via registries.conf wrapper");

    // A checkpoint image missing from the registry, then restored.
    images.delete(RELEASE_B);
    assert!(registry
        .skopeo_inspect_digest(&format!("os:{RELEASE_B}"))
        .is_err());
    assert_eq!(
        registry.manifest_digest("os", "stable"),
        Some(images.digest(RELEASE_C))
    );
    images.push(RELEASE_B);
    assert_eq!(
        registry.manifest_digest("os", RELEASE_B),
        Some(images.digest(RELEASE_B))
    );
    t.step("delete + re-push B");

    eprintln!("[timing] total {:.3}s", t.total().as_secs_f64());
}
