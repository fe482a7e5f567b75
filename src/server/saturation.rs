//! Saturation: a listener at its connection cap with every connection
//! busy, which would refuse a new client. `/readyz` reads it at each
//! probe; [`watch_saturation`] keeps gRPC health in line with it.

use super::accept::Gate;
use super::admin::{Phase, Readiness};
use crate::metrics::connections::Listener;
use crate::service::SERVICE_NAME;
use std::sync::Arc;
use std::time::Duration;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

/// The listeners whose saturation makes errmap unready: those of the API.
#[derive(Debug, Clone)]
pub struct Saturation(pub Vec<(Listener, Arc<Gate>)>);

impl Saturation {
    /// The first saturated listener, and its cap.
    pub fn saturated(&self) -> Option<(Listener, usize)> {
        self.0
            .iter()
            .find(|(_, gate)| gate.saturated())
            .map(|(listener, gate)| (*listener, gate.max_connections()))
    }
}

/// How often health is brought in line with the API's saturation.
const SATURATION_CHECK: Duration = Duration::from_millis(500);

/// Turns health NOT_SERVING while the API is saturated (every connection
/// busy, so a new client would be refused), and SERVING again after, until
/// the task is aborted when draining begins. `/readyz` reads saturation
/// itself, at each probe.
pub async fn watch_saturation(
    saturation: Saturation,
    readiness: Readiness,
    health: HealthReporter,
) {
    let mut was = false;
    let mut ticks = tokio::time::interval(SATURATION_CHECK);
    loop {
        ticks.tick().await;
        let now = saturation.saturated();
        if now.is_some() == was || readiness.phase() != Phase::Serving {
            continue;
        }
        was = now.is_some();
        let status = match now {
            Some((listener, max)) => {
                tracing::warn!(
                    max,
                    "the {} listener is saturated: every connection is busy; health is NOT_SERVING",
                    listener.as_str()
                );
                ServingStatus::NotServing
            }
            None => {
                tracing::info!("the API listener has room again; health is SERVING");
                ServingStatus::Serving
            }
        };
        for name in ["", SERVICE_NAME] {
            health.set_service_status(name, status).await;
        }
    }
}
