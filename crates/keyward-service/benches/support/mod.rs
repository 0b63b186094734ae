//! Set-up shared by the benchmarks of the cached authentication path: this crate's
//! (`authenticate.rs`) and keyward-http's (`request.rs`, which includes this file by path).

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use keyward_core::credential::parse_authorization;
use keyward_service::{
    BootstrapPassword, CreateApiKey, SecurityService, ServiceConfig, SystemClock,
};
use keyward_store::{EmbeddedStore, EmbeddedStoreOptions};
use zeroize::Zeroizing;

/// Polls a future that must complete without waiting (a cache hit never awaits IO).
pub(crate) fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the cache hit path awaited"),
    }
}

/// A service on an embedded store in `dir`, with the `elastic` superuser and one API key it
/// created (so the key is cached); returns the service and the key's `Authorization` value.
pub(crate) fn service_with_cached_key(
    runtime: &tokio::runtime::Runtime,
    dir: &std::path::Path,
) -> (SecurityService, String) {
    let store = EmbeddedStore::open(EmbeddedStoreOptions::new(dir.to_path_buf())).unwrap();
    let service = SecurityService::new(
        Arc::new(store),
        ServiceConfig::default(),
        Arc::new(SystemClock),
    );
    let header = runtime.block_on(async {
        service
            .bootstrap(BootstrapPassword::Given(Zeroizing::new(
                "bench-password".to_owned(),
            )))
            .await
            .unwrap();
        let basic = parse_authorization(b"Basic ZWxhc3RpYzpiZW5jaC1wYXNzd29yZA==").unwrap();
        let admin = service.authenticate(basic).await.unwrap();
        let request = CreateApiKey {
            name: Some("bench".to_owned()),
            ..CreateApiKey::default()
        };
        let created = service.create_api_key(&admin, request).await.unwrap();
        format!("ApiKey {}", created.encoded.as_str())
    });
    (service, header)
}
