//! `impl Api for Service` directly, without HTTP.

use std::sync::Arc;

use pta_service::{MemoryStore, Service, Store, SystemClock};
use pta_service_http::Api;

use crate::support::service_options;

/// A sign-in names its tenant by id or by name. Loaded tenants are answered from memory; a
/// tenant that another process created on the same store since the last poll is still found
/// (in the store), and an unknown name is `None`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_tenant_resolves_ids_and_names() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let svc = Service::start(store.clone(), service_options(), Arc::new(SystemClock))
        .await
        .unwrap();
    let contoso = svc.create_tenant("contoso").await.unwrap();
    let api: &dyn Api = &svc;
    assert_eq!(
        api.sign_in_tenant("contoso").await.unwrap(),
        Some(contoso.id)
    );
    let by_id = contoso.id.to_string();
    assert_eq!(api.sign_in_tenant(&by_id).await.unwrap(), Some(contoso.id));
    assert_eq!(api.sign_in_tenant("nope").await.unwrap(), None);
    assert_eq!(api.sign_in_tenant("Contoso").await.unwrap(), None);

    let other = Service::start(store, service_options(), Arc::new(SystemClock))
        .await
        .unwrap();
    let fabrikam = other.create_tenant("fabrikam").await.unwrap();
    assert_eq!(
        api.sign_in_tenant("fabrikam").await.unwrap(),
        Some(fabrikam.id)
    );
    let by_id = fabrikam.id.to_string();
    assert_eq!(api.sign_in_tenant(&by_id).await.unwrap(), Some(fabrikam.id));
    other.shutdown().await;
    svc.shutdown().await;
}

/// `Serving` binds both listeners, serves until `shutdown`, then stops them and the service;
/// a listener that cannot bind is an error naming its address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_starts_both_listeners_and_stops_them() {
    use std::net::SocketAddr;

    use pta_service_http::{ApiAuth, ApiOptions, HttpError, ServeOptions, Serving};

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let svc = Service::start(store, service_options(), Arc::new(SystemClock))
        .await
        .unwrap();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let auth = || ApiAuth::new(None, std::iter::empty::<&[u8]>());
    let serving = Serving::start(
        svc.clone(),
        ServeOptions::new(any, any, ApiOptions::new(auth())),
    )
    .await
    .unwrap();
    let (registration, api) = (serving.registration_addr(), serving.api_addr());
    assert_ne!(registration.port(), 0);
    assert_ne!(api.port(), 0);
    assert_eq!(serving.api_scheme(), "https");
    for addr in [registration, api] {
        tokio::net::TcpStream::connect(addr).await.unwrap();
    }

    // The API's address is taken: refused, naming it.
    let taken = Serving::start(
        svc.clone(),
        ServeOptions::new(any, api, ApiOptions::new(auth())),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&taken, HttpError::Bind { addr, .. } if *addr == api),
        "{taken}"
    );
    assert!(taken.to_string().contains(&api.to_string()), "{taken}");

    serving.shutdown().await;
    for addr in [registration, api] {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr}"
        );
    }
}
