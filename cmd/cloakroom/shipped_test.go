package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy"
	"github.com/cloakroom/cloakroom/tokenize"
)

// Shipped monitoring files, relative to this package.
var (
	dashboardFile = filepath.Join("..", "..", "configs", "grafana", "cloakroom-dashboard.json")
	alertsFile    = filepath.Join("..", "..", "configs", "prometheus-alerts.yml")
)

// descRecorder is a registry that remembers the name of every metric registered.
type descRecorder struct {
	*prometheus.Registry
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *descRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return r.Registry.Register(c)
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// registeredMetrics builds a proxy as serve does and returns the names of the
// cloakroom metrics it registers.
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	certPEM, keyPEM, err := proxy.GenerateCA("cloakroom test CA")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := proxy.NewCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	det, err := detect.New(detect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tokenize.NewKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	store, err := tokenize.OpenBolt(filepath.Join(t.TempDir(), storeFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	vault, err := tokenize.NewVault(tokenize.VaultConfig{Keys: keys, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	reg := &descRecorder{Registry: prometheus.NewRegistry(), names: map[string]bool{}}
	p, err := proxy.New(proxy.Config{CA: ca}, proxy.Deps{Detector: det, Known: detect.NewKnownSet(0), Vault: vault, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	names := map[string]bool{}
	for n := range reg.names {
		if strings.HasPrefix(n, "cloakroom_") {
			names[n] = true
		}
	}
	if len(names) < 10 {
		t.Fatalf("the proxy registered %d cloakroom metrics: the recorder sees nothing", len(names))
	}
	return names
}

var metricRef = regexp.MustCompile(`\bcloakroom_[a-z0-9_]+\b`)

// checkReferences reports every cloakroom_* name in text that is not a registered
// metric (histograms count with their _bucket, _sum and _count series).
func checkReferences(t *testing.T, file string, text string, registered map[string]bool) int {
	t.Helper()
	refs := metricRef.FindAllString(text, -1)
	slices.Sort(refs)
	refs = slices.Compact(refs)
	for _, ref := range refs {
		base := ref
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(ref, suffix); ok && registered[b] {
				base = b
			}
		}
		if !registered[base] {
			t.Errorf("%s refers to %s, which the proxy does not register", file, ref)
		}
	}
	return len(refs)
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		GridPos struct {
			H, W, X, Y int
		} `json:"gridPos"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// alertRules is a Prometheus rule file.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestShippedMonitoring: the Grafana dashboard and the alert rules in configs/ are
// well formed and refer only to metrics a real proxy registers, so neither can
// draw or watch a metric that does not exist.
func TestShippedMonitoring(t *testing.T) {
	registered := registeredMetrics(t)
	dashText, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	alertText, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}

	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(dashText))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 30 || len(d.Panels) == 0 {
		t.Fatalf("%s: got title %q uid %q schemaVersion %d and %d panels, want a Grafana dashboard", dashboardFile, d.Title, d.UID, d.SchemaVersion, len(d.Panels))
	}
	var exprs []string
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if g := p.GridPos; g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, g)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || len(p.Targets) == 0 {
			t.Errorf("panel %q: want a Prometheus data source and at least one query", p.Title)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" || q.RefID == "" || refs[q.RefID] {
				t.Errorf("panel %q: a query without expression or with a missing or repeated refId %q", p.Title, q.RefID)
			}
			refs[q.RefID] = true
			exprs = append(exprs, q.Expr)
		}
	}
	for _, v := range d.Templating.List {
		// Grafana's label_values(metric, label): the metric must exist too.
		if v.Type == "query" && !metricRef.MatchString(v.Definition) {
			t.Errorf("%s: variable %s does not query a cloakroom metric: %q", dashboardFile, v.Name, v.Definition)
		}
	}
	if n := checkReferences(t, dashboardFile, string(dashText), registered); n < 15 {
		t.Errorf("%s refers to %d cloakroom metrics, want the dashboard to cover at least 15", dashboardFile, n)
	}

	var rules alertRules
	if err := yaml.Unmarshal(alertText, &rules); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	if len(rules.Groups) == 0 {
		t.Fatalf("%s: no rule groups", alertsFile)
	}
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("%s: group %q is unnamed or empty", alertsFile, g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: rule %q needs alert, expr, a severity label and a summary", alertsFile, r.Alert)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: rule %s: for %q: %v", alertsFile, r.Alert, r.For, err)
				}
			}
			if alerts[r.Alert] {
				t.Errorf("%s: alert %s defined twice", alertsFile, r.Alert)
			}
			alerts[r.Alert] = true
		}
	}
	for _, want := range []string{"CloakroomNotReady", "CloakroomVaultErrors", "CloakroomRefusalsSpike", "CloakroomScanLatencyHigh", "CloakroomApprovalsPilingUp", "CloakroomPolicyReloadFailed"} {
		if !alerts[want] {
			t.Errorf("%s lacks the alert %s", alertsFile, want)
		}
	}
	checkReferences(t, alertsFile, string(alertText), registered)

	// With promtool at hand, PromQL itself is checked: the rule file as is, and the
	// dashboard's queries as recording rules, Grafana's variables filled in.
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is required in CI (scripts/test installs Debian's prometheus package)")
		}
		t.Log("promtool not installed: PromQL syntax not checked")
		return
	}
	if out, err := exec.Command(promtool, "check", "rules", alertsFile).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules %s: %v\n%s", alertsFile, err, out)
	}
	fill := strings.NewReplacer("$__rate_interval", "5m", "$__range", "6h", "$job", ".*", "$instance", ".*")
	var rf strings.Builder
	rf.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(fill.Replace(e)) // a JSON string is a YAML string
		fmt.Fprintf(&rf, "      - record: dashboard:query%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(rf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("the dashboard's queries do not parse as PromQL: %v\n%s", err, out)
	}
}

// TestShippedMetricsDocumented: every metric the proxy registers is described in
// the README.
func TestShippedMetricsDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range registeredMetrics(t) {
		if !bytes.Contains(readme, []byte("`"+name)) {
			t.Errorf("README does not document %s", name)
		}
	}
}
