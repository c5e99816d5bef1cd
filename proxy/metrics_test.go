package proxy_test

import (
	"errors"
	"math"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// sample returns the series of metric name whose labels are exactly labels, or nil.
func sample(t *testing.T, h *harness, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m
		}
	}
	return nil
}

// histCount is the number of observations of a histogram series.
func histCount(t *testing.T, h *harness, name string, labels map[string]string) uint64 {
	t.Helper()
	return sample(t, h, name, labels).GetHistogram().GetSampleCount()
}

// gauge is the value of a gauge series (NaN when absent).
func gauge(t *testing.T, h *harness, name string, labels map[string]string) float64 {
	t.Helper()
	m := sample(t, h, name, labels)
	if m == nil {
		return math.NaN()
	}
	return m.GetGauge().GetValue()
}

// TestMetricsOfOneEgressStory follows a secret from a prompt to an approved egress
// request and checks each metric the issue asks for moves with bounded labels.
func TestMetricsOfOneEgressStory(t *testing.T) {
	r := newEgressRig(t, 0)
	h := r.harness
	secret := githubToken(t)
	r.plant(secret)

	if got := gauge(t, h, "cloakroom_vault_up", nil); got != 1 {
		t.Errorf("cloakroom_vault_up: got %v, want 1", got)
	}
	if got := gauge(t, h, "cloakroom_approvals_pending", nil); got != 0 {
		t.Errorf("pending approvals before any: got %v, want 0", got)
	}
	tok := r.submit("alice", secret)
	r.drain()
	if got := metricValue(t, h, "cloakroom_detections_total", map[string]string{"rule": "github-pat", "class": "github", "principal": "unauthenticated"}); got != 1 {
		t.Errorf("detections{rule,class,principal}: got %v, want 1", got)
	}
	if got := histCount(t, h, "cloakroom_upstream_duration_seconds", map[string]string{"host": "api.anthropic.com"}); got != 1 {
		t.Errorf("upstream duration of the model host: got %d observations, want 1", got)
	}
	if got := histCount(t, h, "cloakroom_vault_duration_seconds", map[string]string{"op": "tokenize"}); got < 1 {
		t.Errorf("vault tokenize duration: got %d observations, want at least 1", got)
	}
	if got := histCount(t, h, "cloakroom_vault_duration_seconds", map[string]string{"op": "lookup"}); got < 1 {
		t.Errorf("vault lookup duration (the restore): got %d observations, want at least 1", got)
	}
	if got := gauge(t, h, "cloakroom_known_values", nil); got < 1 {
		t.Errorf("known values: got %v, want at least 1", got)
	}

	resp, _ := r.github("alice", "Bearer "+tok)
	id := resp.Header.Get("X-Cloakroom-Approval")
	if resp.StatusCode != http.StatusForbidden || id == "" {
		t.Fatalf("egress before approval: got %d, want 403 with an approval", resp.StatusCode)
	}
	r.drain()
	if got := gauge(t, h, "cloakroom_approvals_pending", nil); got != 1 {
		t.Errorf("pending approvals: got %v, want 1", got)
	}
	if got := metricValue(t, h, "cloakroom_request_errors_total", map[string]string{"host": "egress", "error": "approval_required"}); got != 1 {
		t.Errorf("request errors{egress,approval_required}: got %v, want 1", got)
	}
	if got := metricValue(t, h, "cloakroom_decisions_total", map[string]string{"direction": "egress", "event": "approval_requested", "class": "github"}); got != 1 {
		t.Errorf("decisions{egress,approval_requested,github}: got %v, want 1", got)
	}

	r.approve(id, "")
	if got := histCount(t, h, "cloakroom_approval_wait_seconds", map[string]string{"result": "granted"}); got != 1 {
		t.Errorf("approval wait{granted}: got %d observations, want 1", got)
	}
	if got := gauge(t, h, "cloakroom_approvals_pending", nil); got != 0 {
		t.Errorf("pending approvals after the decision: got %v, want 0", got)
	}
	if resp, _ := r.github("alice", "Bearer "+tok); resp.StatusCode != 200 {
		t.Fatalf("egress after approval: got %d", resp.StatusCode)
	}
	r.drain()
	if got := histCount(t, h, "cloakroom_upstream_duration_seconds", map[string]string{"host": "egress"}); got != 1 {
		t.Errorf("upstream duration of egress hosts: got %d observations, want 1", got)
	}
	if got := metricValue(t, h, "cloakroom_decisions_total", map[string]string{"direction": "egress", "event": "grant_used", "class": "github"}); got != 1 {
		t.Errorf("decisions{egress,grant_used,github}: got %v, want 1", got)
	}
}

func TestMetricsPolicyLoad(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	steps := []struct {
		name       string
		err        error
		wantLoaded float64
		wantOK     float64
		wantErrors float64
	}{
		{name: "none loaded yet", wantLoaded: 0},
		{name: "first load fails", err: errors.New("rego_parse_error"), wantLoaded: 0, wantErrors: 1},
		{name: "load succeeds", wantLoaded: 1, wantOK: 1, wantErrors: 1},
		{name: "reload fails: the last good policy stays", err: errors.New("rego_parse_error"), wantLoaded: 1, wantOK: 1, wantErrors: 2},
	}
	for i, s := range steps {
		if i > 0 {
			h.p.ObservePolicyLoad(s.err)
		}
		if got := gauge(t, h, "cloakroom_policy_loaded", nil); got != s.wantLoaded {
			t.Errorf("%s: policy loaded: got %v, want %v", s.name, got, s.wantLoaded)
		}
		if got := metricValue(t, h, "cloakroom_policy_reloads_total", map[string]string{"result": "ok"}); got != s.wantOK {
			t.Errorf("%s: reloads{ok}: got %v, want %v", s.name, got, s.wantOK)
		}
		if got := metricValue(t, h, "cloakroom_policy_reloads_total", map[string]string{"result": "error"}); got != s.wantErrors {
			t.Errorf("%s: reloads{error}: got %v, want %v", s.name, got, s.wantErrors)
		}
	}
}
