package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloakroom/cloakroom/tokenize"
)

// Metric label values for outcomes.
const (
	outcomeForwarded = "forwarded"
	outcomeRefused   = "refused"
	outcomeTunnelled = "tunnelled"
	outcomeBlocked   = "blocked"
	outcomeError     = "upstream_error"

	restoreRestored = "restored"
	restoreWithheld = "withheld"
	restoreUnknown  = "unknown"
)

// metrics holds cloakroom's instruments. Labels never carry a secret: hosts are
// intercepted host names (bounded by the intercept list) or "other", rules and classes
// come from the catalog.
type metrics struct {
	requests     *prometheus.CounterVec
	scanDuration prometheus.Histogram
	scannedBytes prometheus.Counter
	detections   *prometheus.CounterVec
	tokenized    *prometheus.CounterVec
	restores     *prometheus.CounterVec
	vaultErrors  prometheus.Counter
	scanCache    *prometheus.CounterVec
	decisions    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cloakroom_requests_total",
			Help: "Requests seen by the proxy, by host pattern, principal (a configured agent's name, default, unauthenticated or refused) and outcome (forwarded, refused, tunnelled, blocked, upstream_error).",
		}, []string{"host", "principal", "outcome"}),
		scanDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cloakroom_scan_duration_seconds",
			Help:    "Time to decode, scan and redact one request body.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
		}),
		scannedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cloakroom_scanned_bytes_total",
			Help: "Decoded request body bytes scanned.",
		}),
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cloakroom_detections_total",
			Help: "Secrets found in requests, by rule.",
		}, []string{"rule"}),
		tokenized: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cloakroom_tokens_minted_total",
			Help: "Secrets replaced by tokens in requests, by token class.",
		}, []string{"class"}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cloakroom_restores_total",
			Help: "Tokens met in responses, by outcome (restored, withheld by policy, unknown to the vault).",
		}, []string{"outcome"}),
		vaultErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cloakroom_vault_errors_total",
			Help: "Vault operations that failed (requests carrying new secrets are refused).",
		}),
	}
	m.scanCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloakroom_scan_cache_lookups_total",
		Help: "Scan-cache lookups for long request strings: clean (a JSON literal seen before to hold nothing: not even decoded), hit (findings reused), known_rescan (only the known values were scanned again: new ones were learned since), miss (scanned).",
	}, []string{"result"})
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cloakroom_decisions_total",
		Help: "Policy decisions and approval events, by direction (restore, egress, api) and event (allow, deny, approval_requested, granted, denied, expired, grant_used).",
	}, []string{"direction", "event"})
	reg.MustRegister(m.decisions, m.scanCache, m.requests, m.scanDuration, m.scannedBytes, m.detections, m.tokenized, m.restores, m.vaultErrors)
	return m
}

// registerVaultMetrics exposes the hit and miss counts of the vault's in-memory
// cache, whose ratio says whether cache_size fits the working set.
func registerVaultMetrics(reg prometheus.Registerer, v *tokenize.Vault) {
	for _, c := range []struct {
		op, result string
		get        func(tokenize.VaultStats) uint64
	}{
		{"tokenize", "hit", func(s tokenize.VaultStats) uint64 { return s.TokenizeHits }},
		{"tokenize", "miss", func(s tokenize.VaultStats) uint64 { return s.TokenizeMisses }},
		{"lookup", "hit", func(s tokenize.VaultStats) uint64 { return s.LookupHits }},
		{"lookup", "miss", func(s tokenize.VaultStats) uint64 { return s.LookupMisses }},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "cloakroom_vault_cache_total",
			Help:        "Vault operations answered from the in-memory cache (hit) or the store (miss), by operation.",
			ConstLabels: prometheus.Labels{"op": c.op, "result": c.result},
		}, func() float64 { return float64(c.get(v.Stats())) }))
	}
}
