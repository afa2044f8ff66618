//! Serving a running [`Service`]: its registration and API listeners side by side, and the
//! orderly stop of the listeners and then of the service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pta_service::Service;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Api, ApiOptions, HttpError, HttpServer, RegistrationOptions, ServerLimits};

/// How long [`Serving::shutdown`] waits for the listeners by default.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how [`Serving::start`] serves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Bind address of the registration listener (HTTPS, always).
    pub registration_listen: SocketAddr,
    /// Bind address of the API listener.
    pub api_listen: SocketAddr,
    /// Settings of the registration router.
    pub registration: RegistrationOptions,
    /// Settings of the API router (who may call it, token lifetime, ...).
    pub api: ApiOptions,
    /// Serve the API over HTTPS with the service's certificate (default true); false serves
    /// plain HTTP, only for deployments behind a TLS-terminating proxy.
    pub api_tls: bool,
    /// Limits of each listener (connections, handshake and header timeouts, grace period).
    pub limits: ServerLimits,
    /// At shutdown, how long to wait for both listeners to stop before shutting the service
    /// down anyway (default [`DEFAULT_STOP_TIMEOUT`]).
    pub stop_timeout: Duration,
}

impl ServeOptions {
    /// The defaults (HTTPS on both listeners, default limits and registration rate limit),
    /// with the two bind addresses and the API settings.
    pub fn new(registration_listen: SocketAddr, api_listen: SocketAddr, api: ApiOptions) -> Self {
        Self {
            registration_listen,
            api_listen,
            registration: RegistrationOptions::default(),
            api,
            api_tls: true,
            limits: ServerLimits::default(),
            stop_timeout: DEFAULT_STOP_TIMEOUT,
        }
    }
}

/// A running [`Service`] served over HTTP: the registration listener and the API listener,
/// each on its own task, until [`shutdown`](Self::shutdown).
///
/// Signals are not its business: the binary watches them (the `pta-signal` crate) and calls
/// [`shutdown`](Self::shutdown).
///
/// ```text
///   start:    bind registration (HTTPS) -> bind API (HTTPS, or HTTP) -> serve both
///   shutdown: stop accepting -> requests in progress get ServerLimits::shutdown_grace
///             -> (at most stop_timeout) -> Service::shutdown
/// ```
///
/// ```no_run
/// # async fn demo(service: pta_service::Service) -> Result<(), pta_service_http::HttpError> {
/// use pta_service_http::{ApiAuth, ApiOptions, ServeOptions, Serving};
///
/// let auth = ApiAuth::new(Some(b"admin token from a file".as_slice()), [b"front-end key".as_slice()]);
/// let options = ServeOptions::new(
///     "127.0.0.1:8444".parse().unwrap(),
///     "127.0.0.1:8445".parse().unwrap(),
///     ApiOptions::new(auth),
/// );
/// let serving = Serving::start(service, options).await?;
/// println!("registration: https://{}", serving.registration_addr());
/// println!("api: https://{}", serving.api_addr());
/// // ... until the binary is asked to stop:
/// serving.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct Serving {
    service: Service,
    registration_addr: SocketAddr,
    api_addr: SocketAddr,
    api_tls: bool,
    stop: watch::Sender<bool>,
    servers: JoinHandle<std::io::Result<((), ())>>,
    stop_timeout: Duration,
}

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving")
            .field("registration_addr", &self.registration_addr)
            .field("api_addr", &self.api_addr)
            .field("api_tls", &self.api_tls)
            .finish_non_exhaustive()
    }
}

impl Serving {
    /// Binds both listeners and serves them over `service` (the registration listener always
    /// over HTTPS with [`Service::https_server_config`], the API per
    /// [`ServeOptions::api_tls`]).
    ///
    /// # Errors
    ///
    /// [`HttpError::Bind`] naming the address; nothing is served then, and `service` keeps
    /// running (the caller shuts it down).
    pub async fn start(service: Service, options: ServeOptions) -> Result<Self, HttpError> {
        let ServeOptions {
            registration_listen,
            api_listen,
            registration,
            api,
            api_tls,
            limits,
            stop_timeout,
        } = options;
        let handler: Arc<dyn Api> = Arc::new(service.clone());
        let tls = service.https_server_config();
        let registration = HttpServer::bind(
            registration_listen,
            Some(Arc::clone(&tls)),
            crate::registration_router(Arc::clone(&handler), registration),
        )
        .await
        .map_err(|source| HttpError::Bind {
            addr: registration_listen,
            source,
        })?
        .with_limits(limits);
        let api_server = HttpServer::bind(
            api_listen,
            api_tls.then_some(tls),
            crate::api_router(handler, api),
        )
        .await
        .map_err(|source| HttpError::Bind {
            addr: api_listen,
            source,
        })?
        .with_limits(limits);
        let registration_addr = registration
            .local_addr()
            .map_err(|source| HttpError::Bind {
                addr: registration_listen,
                source,
            })?;
        let api_addr = api_server.local_addr().map_err(|source| HttpError::Bind {
            addr: api_listen,
            source,
        })?;

        let (stop, stopped) = watch::channel(false);
        let wait = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let servers = tokio::spawn({
            let (a, b) = (stopped.clone(), stopped);
            async move { tokio::try_join!(registration.run(wait(a)), api_server.run(wait(b))) }
        });
        Ok(Self {
            service,
            registration_addr,
            api_addr,
            api_tls,
            stop,
            servers,
            stop_timeout,
        })
    }

    /// The registration listener's bound address (served over HTTPS).
    pub fn registration_addr(&self) -> SocketAddr {
        self.registration_addr
    }

    /// The API listener's bound address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// Whether the API listener serves HTTPS (`https`) or plain HTTP (`http`).
    pub fn api_scheme(&self) -> &'static str {
        if self.api_tls { "https" } else { "http" }
    }

    /// The service being served.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Stops both listeners (requests in progress get [`ServerLimits::shutdown_grace`]),
    /// waits for them at most [`ServeOptions::stop_timeout`], then shuts the service down.
    /// Problems on the way (a listener task that failed or did not stop in time) are logged.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        match tokio::time::timeout(self.stop_timeout, self.servers).await {
            Ok(Ok(Ok(_))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server failed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server task failed"),
            Err(_) => tracing::warn!("HTTP servers did not stop in time"),
        }
        self.service.shutdown().await;
    }
}
