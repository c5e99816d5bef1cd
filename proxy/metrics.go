package proxy

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloakroom/cloakroom/resolver"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Metric label values for outcomes.
const (
	outcomeForwarded = "forwarded"
	outcomeRefused   = "refused"
	outcomeTunnelled = "tunnelled"
	outcomeBlocked   = "blocked"
	// and "upstream_error", from audit.Record.Outcome

	restoreRestored = "restored"
	restoreWithheld = "withheld"
	restoreUnknown  = "unknown"
)

// Vault operations, as cloakroom_vault_duration_seconds labels them.
const (
	vaultOpTokenize    = "tokenize"
	vaultOpLookup      = "lookup"
	vaultOpLookupValue = "lookup_value"
)

// scrapeTimeout bounds each store call made for a scrape (cloakroom_vault_up,
// cloakroom_approvals_pending).
const scrapeTimeout = time.Second

// metrics holds cloakroom's instruments. Labels never carry a secret and stay
// bounded: hosts are intercept patterns, "egress" or "other"; principals are
// configured agents' names or one of a few fixed labels; rules and classes come from
// the catalog (or the configured rules); everything else is a fixed set of words.
type metrics struct {
	requests      *prometheus.CounterVec
	requestErrors *prometheus.CounterVec
	scanDuration  prometheus.Histogram
	scannedBytes  prometheus.Counter
	detections    *prometheus.CounterVec // rule, class, principal: use detected
	tokenized     *prometheus.CounterVec
	restores      *prometheus.CounterVec
	vaultErrors   prometheus.Counter
	scanCache     *prometheus.CounterVec // use cache: its series, made once
	cache         map[string]prometheus.Counter
	decisions     *prometheus.CounterVec // direction, event, class: use decided
	upstream      *prometheus.HistogramVec
	vaultDuration *prometheus.HistogramVec
	approvalWait  *prometheus.HistogramVec
	knownAdded    *prometheus.CounterVec
	policyLoaded  prometheus.Gauge
	policyReloads *prometheus.CounterVec

	// vaultDuration's series, one per operation
	vaultTokenizeTime, vaultLookupTime, vaultLookupValueTime prometheus.Observer
}

// latencyBuckets cover 1 ms to about 2 minutes: upstream model calls and
// approval holds are slow, vault calls fast.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2.5, 14)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cloakroom_requests_total",
			Help: "Requests seen by the proxy, by host pattern, principal (a configured agent's name, default, unauthenticated or refused) and outcome (forwarded, refused, tunnelled, blocked, upstream_error).",
		}, []string{"host", "principal", "outcome"}),
		requestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cloakroom_request_errors_total",
			Help: "Intercepted requests that ended in an error, by host pattern and error class (the audit record's error: vault, body_too_large, bad_encoding, bad_json, auth, upstream, leak_guard, policy_denied, approval_required, approvals, upgrade_unsupported, misdirected, internal).",
		}, []string{"host", "error"}),
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
			Help: "Secrets found in requests, by rule, class and principal.",
		}, []string{"rule", "class", "principal"}),
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
		scanCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cloakroom_scan_cache_lookups_total",
			Help: "Scan-cache lookups for long request strings: clean (a JSON literal seen before to hold nothing: not even decoded), hit (findings reused), known_rescan (only the known values were scanned again: new ones were learned since), miss (scanned), resumed and resume_fallback (a resent conversation's body walked from a checkpoint, or walked whole after all).",
		}, []string{"result"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cloakroom_decisions_total",
			Help: "Policy decisions and approval events, by direction (restore, egress, api), event (allow, deny, approval_requested, granted, denied, expired, grant_used) and token class.",
		}, []string{"direction", "event", "class"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cloakroom_upstream_duration_seconds",
			Help:    "Time from sending a request upstream to its response headers, by host pattern (egress for egress hosts); failed round trips are not observed.",
			Buckets: latencyBuckets,
		}, []string{"host"}),
		vaultDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cloakroom_vault_duration_seconds",
			Help:    "Time of vault calls made for requests, by operation (tokenize, lookup, lookup_value), cache hits included.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 3, 12),
		}, []string{"op"}),
		approvalWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cloakroom_approval_wait_seconds",
			Help:    "Time from an approval request to its end, by result (granted, denied, expired), observed on the replica that recorded the end.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600},
		}, []string{"result"}),
		knownAdded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cloakroom_known_registrations_total",
			Help: "Values sent to the known-values API (POST " + KnownPath + ", as cloakroom run does), by result (registered, skipped, refused: over the hourly quota).",
		}, []string{"result"}),
		policyLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cloakroom_policy_loaded",
			Help: "1 when a valid policy is in force, 0 when none could be loaded (then every restore, egress and resolve is denied).",
		}),
		policyReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cloakroom_policy_reloads_total",
			Help: "Policy loads and reloads, by result (ok, error: the last good policy stays in force).",
		}, []string{"result"}),
	}
	m.vaultTokenizeTime = m.vaultDuration.WithLabelValues(vaultOpTokenize)
	m.vaultLookupTime = m.vaultDuration.WithLabelValues(vaultOpLookup)
	m.vaultLookupValueTime = m.vaultDuration.WithLabelValues(vaultOpLookupValue)
	// Series that alerts and dashboards divide by exist from the start.
	m.cache = make(map[string]prometheus.Counter)
	for _, r := range cacheResults {
		m.cache[r] = m.scanCache.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		m.policyReloads.WithLabelValues(r)
	}
	for _, r := range []string{"registered", "skipped"} {
		m.knownAdded.WithLabelValues(r)
	}
	reg.MustRegister(m.requests, m.requestErrors, m.scanDuration, m.scannedBytes, m.detections,
		m.tokenized, m.restores, m.vaultErrors, m.scanCache, m.decisions, m.upstream,
		m.vaultDuration, m.approvalWait, m.knownAdded, m.policyLoaded, m.policyReloads)
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

// registerStateMetrics exposes gauges read at scrape time: the size of the
// known-value set, whether the vault answers, and the number of pending approvals
// (NaN when the approval store does not answer; 0 without one).
func (p *Proxy) registerStateMetrics(reg prometheus.Registerer) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cloakroom_known_values",
		Help: "Distinct secret values in the known-value set, replaced wherever they appear.",
	}, func() float64 { return float64(p.known.Len()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cloakroom_vault_up",
		Help: "1 when the vault's store answers a ping (what /readyz checks), 0 when it does not: requests carrying new secrets are then refused.",
	}, p.vaultUp))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cloakroom_approvals_pending",
		Help: "Approval requests waiting for a decision (read from the approval store at each scrape; NaN when it does not answer).",
	}, p.pendingApprovals))
}

func (p *Proxy) vaultUp() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if p.vault.Ping(ctx) != nil {
		return 0
	}
	return 1
}

func (p *Proxy) pendingApprovals() float64 {
	if p.approvals == nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	list, err := p.approvals.List(ctx, resolver.Pending)
	if err != nil {
		return math.NaN()
	}
	return float64(len(list))
}

// ObservePolicyLoad records the result of loading or reloading the policy: call it
// after every attempt, the first one included. A success sets
// cloakroom_policy_loaded to 1; a failure leaves it as it was (the last good policy
// stays in force, or none: 0); both count in cloakroom_policy_reloads_total.
func (p *Proxy) ObservePolicyLoad(err error) {
	if err != nil {
		p.metrics.policyReloads.WithLabelValues("error").Inc()
		return
	}
	p.metrics.policyReloads.WithLabelValues("ok").Inc()
	p.metrics.policyLoaded.Set(1)
}

// detected counts one secret found in a request.
func (m *metrics) detected(rule, class, principal string) {
	m.detections.WithLabelValues(rule, class, principal).Inc()
}

// Scan-cache lookup results, the values of cloakroom_scan_cache_lookups_total's
// result label.
const (
	cacheClean          = "clean"
	cacheHit            = "hit"
	cacheKnownRescan    = "known_rescan"
	cacheMiss           = "miss"
	cacheResumed        = "resumed"
	cacheResumeFallback = "resume_fallback"
)

var cacheResults = []string{cacheClean, cacheHit, cacheKnownRescan, cacheMiss, cacheResumed, cacheResumeFallback}

// cached counts a scan-cache lookup result: one of cacheResults, whose series were
// made up front (a request's strings count one each).
func (m *metrics) cached(result string) { m.cache[result].Inc() }

// upstreamDone observes the time since st.upstream, unless the round trip failed.
func (m *metrics) upstreamDone(st *reqState, err error) {
	if err == nil {
		m.upstream.WithLabelValues(st.pattern).Observe(time.Since(st.upstream).Seconds())
	}
}

// failed counts a request that ended with an error class.
func (m *metrics) failed(st *reqState) {
	if st.rec.Error != "" {
		m.requestErrors.WithLabelValues(st.pattern, st.rec.Error).Inc()
	}
}

// decided counts a decision event and, for the end of an approval, how long it
// waited.
func (m *metrics) decided(ev resolver.Event, direction, class string) {
	m.decisions.WithLabelValues(direction, string(ev.Kind), class).Inc()
	a := ev.Approval
	if a == nil || a.Created.IsZero() {
		return
	}
	end := a.DecidedAt
	switch ev.Kind {
	case resolver.EventGranted, resolver.EventDenied:
	case resolver.EventExpired:
		if end.IsZero() { // the event carries the approval as it was before marking
			end = a.Expires
		}
	default:
		return
	}
	if d := end.Sub(a.Created); !end.IsZero() && d >= 0 {
		m.approvalWait.WithLabelValues(string(ev.Kind)).Observe(d.Seconds())
	}
}

// vaultTokenize is p.vault.Tokenize, timed.
func (p *Proxy) vaultTokenize(ctx context.Context, value []byte, class, rule, principal string) (string, error) {
	start := time.Now()
	tok, err := p.vault.Tokenize(ctx, value, class, rule, principal)
	p.metrics.vaultTokenizeTime.Observe(time.Since(start).Seconds())
	return tok, err
}

// vaultLookup is p.vault.Lookup, timed.
func (p *Proxy) vaultLookup(ctx context.Context, tok tokenize.Token) (tokenize.Entry, error) {
	start := time.Now()
	e, err := p.vault.Lookup(ctx, tok)
	p.metrics.vaultLookupTime.Observe(time.Since(start).Seconds())
	return e, err
}

// vaultLookupValue is p.vault.LookupValue, timed.
func (p *Proxy) vaultLookupValue(ctx context.Context, value []byte) (tokenize.Entry, error) {
	start := time.Now()
	e, err := p.vault.LookupValue(ctx, value)
	p.metrics.vaultLookupValueTime.Observe(time.Since(start).Seconds())
	return e, err
}
