//! Constructors of the runtime's answer types, for code outside this crate that implements the
//! HTTP layer's `Api` over its own service (or a fake in tests): the types are
//! `#[non_exhaustive]`, so they cannot be built with a struct expression there.

use crate::{AgentId, AgentRecord, AgentView, DecidedBy, Registration, SignInResult, TenantId};

impl SignInResult {
    /// A sign-in that reached `verdict`, decided by `decided_by`, in `latency_ms`.
    pub fn new(
        request_id: pta_wire::RequestId,
        verdict: pta_wire::Verdict,
        warnings: Vec<pta_wire::Warning>,
        decided_by: DecidedBy,
        latency_ms: u64,
    ) -> Self {
        Self {
            request_id,
            verdict,
            warnings,
            decided_by,
            latency_ms,
        }
    }
}

impl AgentView {
    /// An agent with `connections` live connections.
    pub fn new(record: AgentRecord, connections: u32) -> Self {
        Self {
            record,
            connections,
        }
    }
}

impl Registration {
    /// A registered agent: its id and tenant, its certificate chain (leaf first) and the
    /// tenant CA certificate, DER.
    pub fn new(
        agent_id: AgentId,
        tenant: TenantId,
        certificate_chain_der: Vec<Vec<u8>>,
        ca_certificate_der: Vec<u8>,
    ) -> Self {
        Self {
            agent_id,
            tenant,
            certificate_chain_der,
            ca_certificate_der,
        }
    }
}
