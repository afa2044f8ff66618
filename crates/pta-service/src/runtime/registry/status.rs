//! The agent status sweep: the status policy applied to every registered agent, with the
//! registry's live connections deciding who is connected.

use crate::{AuditEvent, AuditKind, AuditOutcome, ServiceError, Transition};

use super::super::service::Inner;

impl Inner {
    /// Applies the status policy at the clock's time (see `Service::sweep`).
    pub(crate) async fn sweep(&self) -> Result<(), ServiceError> {
        let now = self.now();
        let policy = self.options.status;
        for tenant in self.store.tenants().await? {
            for agent in self.store.agents(&tenant.id).await? {
                let connected = self.registry.dispatcher.connections_of(&agent.id) > 0;
                match policy.transition(now, agent.status, agent.last_seen, connected) {
                    Transition::Keep => {}
                    Transition::Set(status) => {
                        self.store.set_agent_status(&agent.id, status).await?;
                        if status == crate::AgentStatus::Inactive {
                            tracing::info!(agent = %agent.id, tenant = %tenant.id, "agent inactive");
                            self.audit(
                                AuditEvent::new(now, AuditKind::AgentInactive, AuditOutcome::Ok)
                                    .with_tenant(tenant.id)
                                    .with_agent(agent.id),
                            );
                        }
                    }
                    Transition::Purge => {
                        if self.store.delete_agent(&agent.id).await? {
                            tracing::info!(agent = %agent.id, tenant = %tenant.id, "agent purged");
                            self.audit(
                                AuditEvent::new(now, AuditKind::AgentPurged, AuditOutcome::Ok)
                                    .with_tenant(tenant.id)
                                    .with_agent(agent.id),
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
