//! Serving a router over HTTPS (rustls) or plain HTTP on a TCP listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The peer address of the connection a request came on; the server puts it in every
/// request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Limits of one [`HttpServer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimits {
    /// Connections served at once; more wait in the listen queue (default 1024).
    pub max_connections: usize,
    /// Time to finish the TLS handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// Time to receive a request's headers (default 10 s).
    pub header_timeout: Duration,
    /// At shutdown, time given to requests in progress (default 5 s).
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// An HTTP/1.1 server for one router on one listener, with TLS (rustls) or without.
///
/// ```no_run
/// # async fn demo(router: axum::Router, tls: std::sync::Arc<rustls::ServerConfig>) -> std::io::Result<()> {
/// use pta_service_http::HttpServer;
/// let server = HttpServer::bind("127.0.0.1:0".parse().unwrap(), Some(tls), router).await?;
/// println!("listening on https://{}", server.local_addr()?);
/// server.run(std::future::pending()).await
/// # }
/// ```
pub struct HttpServer {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: ServerLimits,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("local_addr", &self.listener.local_addr().ok())
            .field("tls", &self.tls.is_some())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    /// Binds `addr`. With `tls`, every connection is a TLS connection with that config;
    /// without, plain HTTP (for deployments behind a TLS-terminating proxy).
    ///
    /// # Errors
    ///
    /// The bind's I/O error.
    pub async fn bind(
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
        router: Router,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::from_listener(listener, tls, router))
    }

    /// Serves on an already bound listener.
    pub fn from_listener(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        router: Router,
    ) -> Self {
        Self {
            listener,
            tls: tls.map(TlsAcceptor::from),
            router,
            limits: ServerLimits::default(),
        }
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// The socket's I/O error.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts and serves connections until `shutdown` completes; then stops accepting, lets
    /// requests in progress finish for up to [`ServerLimits::shutdown_grace`], and returns.
    ///
    /// # Errors
    ///
    /// None so far: accept errors (out of file descriptors, a reset connection) are logged
    /// and the loop goes on after a short pause.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let Self {
            listener,
            tls,
            router,
            limits,
        } = self;
        let graceful = GracefulShutdown::new();
        let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let router = router.clone();
            let service =
                hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(PeerAddr(peer));
                    router.clone().oneshot(request.map(axum::body::Body::new))
                });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            match &tls {
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let _permit = permit;
                        let stream = match tokio::time::timeout(
                            limits.handshake_timeout,
                            acceptor.accept(stream),
                        )
                        .await
                        {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                        let conn = http.serve_connection(TokioIo::new(stream), service);
                        if let Err(e) = watcher.watch(conn).await {
                            tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
                        }
                    });
                }
                None => {
                    let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        let _permit = permit;
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                        }
                    });
                }
            }
        }
        drop(listener);
        if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after the shutdown grace period");
        }
        Ok(())
    }
}
