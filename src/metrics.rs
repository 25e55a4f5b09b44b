//! keyhatch's counters for Prometheus (server only): the operations and their outcomes, the
//! refusals and why, how long site mode's helpers take, and how Seqera Platform answered. They
//! are served in Prometheus's text format at `/metrics` on a listener of their own
//! (`metrics-addr`, off by default: `server::metrics`).
//!
//! Every label comes from a fixed set written in the code (`&'static str`): never an account, a
//! fingerprint, an address or a message, so the series stay few and say nothing about a person.
#![deny(missing_docs)]

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Operation {
    action: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Refusal {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Relay {
    outcome: &'static str,
}

/// The counters, registered once.
struct Metrics {
    registry: Registry,
    operations: Family<Operation, Counter>,
    refusals: Family<Refusal, Counter>,
    helper_seconds: Histogram,
    helpers_started: Counter,
    relays: Family<Relay, Counter>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("keyhatch");
    let operations = Family::<Operation, Counter>::default();
    registry.register(
        "operations",
        "Operations people asked for (generate, add, revoke, label, …), by outcome",
        operations.clone(),
    );
    let refusals = Family::<Refusal, Counter>::default();
    registry.register(
        "refusals",
        "Requests and connections refused before the operation, by reason (keys-per-hour: a \
         person's hourly keys used up)",
        refusals.clone(),
    );
    // 1 ms to 16 s: a helper takes a few milliseconds, and is killed after helper-timeout.
    let helper_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 15));
    registry.register(
        "helper_seconds",
        "Site mode: how long each helper lived, from its start to its end",
        helper_seconds.clone(),
    );
    let helpers_started = Counter::default();
    registry.register(
        "helpers_started",
        "Site mode: helpers started, each for one job (a spare waits for its job first)",
        helpers_started.clone(),
    );
    let relays = Family::<Relay, Counter>::default();
    registry.register(
        "seqera_relays",
        "Keys sent on to Seqera Platform, by Platform's answer",
        relays.clone(),
    );
    Metrics {
        registry,
        operations,
        refusals,
        helper_seconds,
        helpers_started,
        relays,
    }
});

/// Counts an operation (`generate`, `revoke`, …) that ended with `outcome` (`ok`, or the
/// error's kind).
pub fn operation(action: &'static str, outcome: &'static str) {
    METRICS
        .operations
        .get_or_create(&Operation { action, outcome })
        .inc();
}

/// Counts a refusal for `reason` (`another account`, `foreign host`, `keys-per-hour`, …).
pub fn refused(reason: &'static str) {
    METRICS.refusals.get_or_create(&Refusal { reason }).inc();
}

/// Records how long a helper lived.
pub fn helper_took(duration: Duration) {
    METRICS.helper_seconds.observe(duration.as_secs_f64());
}

/// Counts a helper started.
pub fn helper_started() {
    METRICS.helpers_started.inc();
}

/// Counts a key sent to Seqera Platform, and its answer (`ok`, `bad token`, `timeout`, …).
pub fn relayed(outcome: &'static str) {
    METRICS.relays.get_or_create(&Relay { outcome }).inc();
}

/// Every counter, in Prometheus's text exposition format.
pub fn encode() -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &METRICS.registry)
        .expect("writing to a String cannot fail");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    // The counters are the process's: labels no other test uses keep the counts exact.
    #[test]
    fn counts_show_with_their_labels_and_the_histogram_its_buckets() {
        operation("unit test", "ok");
        operation("unit test", "ok");
        refused("unit test");
        relayed("unit test");
        helper_took(Duration::from_millis(3));
        let text = encode();
        assert!(
            text.contains("keyhatch_operations_total{action=\"unit test\",outcome=\"ok\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("keyhatch_refusals_total{reason=\"unit test\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("keyhatch_seqera_relays_total{outcome=\"unit test\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("keyhatch_helper_seconds_bucket{le=\"0.004\"}"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
