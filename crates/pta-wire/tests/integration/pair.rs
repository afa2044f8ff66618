//! A harness that connects an `AgentSession` and a `ServiceSession` in memory on virtual time.

use pta_wire::{
    AgentConfig, AgentEvent, AgentSession, ServiceConfig, ServiceEvent, ServiceSession,
};

/// Unix time (ms) of the service's clock at virtual time 0.
pub(crate) const UNIX_EPOCH_OFFSET: u64 = 1_700_000_000_000;

/// What happens to bytes on one direction of the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    Deliver,
    Drop,
    Hold,
}

pub(crate) struct Pair {
    pub(crate) now: u64,
    pub(crate) agent: AgentSession,
    pub(crate) service: ServiceSession,
    pub(crate) agent_events: Vec<AgentEvent>,
    pub(crate) service_events: Vec<ServiceEvent>,
    pub(crate) to_service: Link,
    pub(crate) to_agent: Link,
    pub(crate) held_to_service: Vec<u8>,
    pub(crate) bytes_to_agent: Vec<u8>,
    pub(crate) bytes_to_service: Vec<u8>,
}

impl Pair {
    pub(crate) fn new(ac: AgentConfig, sc: ServiceConfig) -> Self {
        Self {
            now: 0,
            agent: AgentSession::new(ac, 0),
            service: ServiceSession::new(sc, 0, UNIX_EPOCH_OFFSET),
            agent_events: Vec::new(),
            service_events: Vec::new(),
            to_service: Link::Deliver,
            to_agent: Link::Deliver,
            held_to_service: Vec::new(),
            bytes_to_agent: Vec::new(),
            bytes_to_service: Vec::new(),
        }
    }

    /// A pair after a completed handshake; the `Established` events are consumed.
    pub(crate) fn established(ac: AgentConfig, sc: ServiceConfig) -> Self {
        let mut p = Self::new(ac, sc);
        p.drive();
        assert!(matches!(
            p.agent_events.remove(0),
            AgentEvent::Established(_)
        ));
        assert!(matches!(
            p.service_events.remove(0),
            ServiceEvent::Established(_)
        ));
        p
    }

    pub(crate) fn default_established() -> Self {
        Self::established(AgentConfig::default(), ServiceConfig::default())
    }

    /// Moves bytes both ways until neither side has anything to send.
    pub(crate) fn drive(&mut self) {
        loop {
            let mut moved = false;
            let mut buf = Vec::new();
            if self.agent.poll_transmit(&mut buf) > 0 {
                moved = true;
                match self.to_service {
                    Link::Deliver => {
                        self.bytes_to_service.extend_from_slice(&buf);
                        self.feed_service(&buf);
                    }
                    Link::Drop => {}
                    Link::Hold => self.held_to_service.extend_from_slice(&buf),
                }
            }
            let mut buf = Vec::new();
            if self.service.poll_transmit(&mut buf) > 0 {
                moved = true;
                if self.to_agent == Link::Deliver {
                    self.bytes_to_agent.extend_from_slice(&buf);
                    self.feed_agent(&buf);
                }
            }
            self.collect();
            if !moved {
                return;
            }
        }
    }

    pub(crate) fn feed_service(&mut self, data: &[u8]) {
        let mut off = 0;
        while off < data.len() {
            let n = self.service.handle_input(self.now, &data[off..]);
            off += n;
            let before = self.service_events.len();
            self.collect();
            assert!(n > 0 || self.service_events.len() > before, "no progress");
        }
    }

    pub(crate) fn feed_agent(&mut self, data: &[u8]) {
        let mut off = 0;
        while off < data.len() {
            let n = self.agent.handle_input(self.now, &data[off..]);
            off += n;
            let before = self.agent_events.len();
            self.collect();
            assert!(n > 0 || self.agent_events.len() > before, "no progress");
        }
    }

    fn collect(&mut self) {
        while let Some(e) = self.agent.poll_event() {
            self.agent_events.push(e);
        }
        while let Some(e) = self.service.poll_event() {
            self.service_events.push(e);
        }
    }

    /// Releases bytes held on the agent-to-service direction.
    pub(crate) fn release_held(&mut self) {
        let held = std::mem::take(&mut self.held_to_service);
        self.feed_service(&held);
        self.drive();
    }

    /// Advances virtual time to `until`, firing every timer on the way.
    pub(crate) fn run_until(&mut self, until: u64) {
        loop {
            self.drive();
            let next = [self.agent.poll_timeout(), self.service.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.agent.handle_timeout(self.now);
                    self.service.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = until;
        self.drive();
    }
}
