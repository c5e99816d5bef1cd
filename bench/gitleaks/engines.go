package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/cloakroom/cloakroom/bench"
	cdetect "github.com/cloakroom/cloakroom/detect"
	"github.com/cloakroom/cloakroom/proxy/walk"
)

// Engine names, in table order.
const (
	engineJSON     = "cloakroom (JSON-aware, as the proxy)"
	engineRaw      = "cloakroom (raw Scan of the body)"
	engineGitleaks = "gitleaks v8 (default config)"
)

// engine is one scanner under test.
type engine struct {
	name string
	id   string // short name, for benchmarks
	// scan scans body and returns the engine's own result; it is what is timed.
	scan func(body []byte) any
	// count returns the number of findings in a result of scan.
	count func(res any) int
	// values returns the values of the findings of res, a result of scan on body
	// (decoded, raw or as the engine reports them), and the rule of each, to check
	// the planted secrets. They hold secrets: never print them.
	values func(body []byte, res any) (vals, rules []string)
}

// meta describes the engines for the report.
type meta struct {
	cloakroomRules, gitleaksRules int
}

// engines builds the three engines: cloakroom's default catalog with a known-value set
// holding the corpus secrets (a proxy that has seen the session), and gitleaks'
// default detector with decodeDepth passes of its decoder (0 is the library default;
// the gitleaks CLI uses 5).
func engines(c *bench.Corpus, decodeDepth int) ([]engine, meta, error) {
	d, err := cdetect.New(cdetect.Config{})
	if err != nil {
		return nil, meta{}, fmt.Errorf("cloakroom detector: %w", err)
	}
	known := cdetect.NewKnownSet(0)
	for _, s := range c.Secrets.All() {
		known.Add([]byte(s), "secret", "known-value")
	}
	gl, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		return nil, meta{}, fmt.Errorf("gitleaks detector: %w", err)
	}
	gl.MaxDecodeDepth = decodeDepth
	m := meta{cloakroomRules: len(d.Rules()), gitleaksRules: len(gl.Config.Rules)}
	var sc bench.Scanner // one buffer, as the proxy reads each body into one
	return []engine{{
		name: engineJSON,
		id:   "cloakroom-json",
		scan: func(body []byte) any {
			_, n, err := sc.ScanJSON(body, d, known, nil)
			if err != nil {
				return -1
			}
			return n
		},
		count: func(res any) int { return res.(int) },
		values: func(body []byte, _ any) (vals, rules []string) {
			_, _, _ = bench.ScanJSON(body, d, known, func(_ walk.Field, s []byte, fs []cdetect.Finding) {
				for _, f := range fs {
					vals = append(vals, string(s[f.Start:f.End]))
					rules = append(rules, f.RuleID)
				}
			})
			return vals, rules
		},
	}, {
		name:  engineRaw,
		id:    "cloakroom-raw",
		scan:  func(body []byte) any { return d.Scan(body) },
		count: func(res any) int { return len(res.([]cdetect.Finding)) },
		values: func(body []byte, res any) (vals, rules []string) {
			for _, f := range res.([]cdetect.Finding) {
				vals = append(vals, string(body[f.Start:f.End]))
				rules = append(rules, f.RuleID)
			}
			return vals, rules
		},
	}, {
		name:  engineGitleaks,
		id:    "gitleaks",
		scan:  func(body []byte) any { return gl.DetectBytes(body) },
		count: func(res any) int { return len(res.([]report.Finding)) },
		values: func(_ []byte, res any) (vals, rules []string) {
			for _, f := range res.([]report.Finding) {
				vals = append(vals, f.Secret)
				rules = append(rules, f.RuleID)
			}
			return vals, rules
		},
	}}, m, nil
}

// secretNames name the planted secrets, in the order of bench.Secrets.All.
var secretNames = []string{"aws-key-id", "aws-secret", "github-token", "pg-password", "pem-key"}

// planted counts the occurrences of the planted secrets in body (as JSON string
// content) and how many of them the findings' values account for: a value holding a
// secret, decoded or JSON-escaped, accounts for one occurrence of it. It returns, too,
// the names of the secrets with an occurrence not found, and the rules of the values
// that hold no planted secret.
func planted(body []byte, secrets []string, vals, rules []string) (found, total int, missed []string, other map[string]int) {
	used := make([]bool, len(vals))
	for k, s := range secrets {
		esc := jsonText(s)
		occ := bytes.Count(body, []byte(esc))
		hits := 0
		for i, v := range vals {
			if strings.Contains(v, s) || strings.Contains(v, esc) {
				hits++
				used[i] = true
			}
		}
		total += occ
		found += min(hits, occ)
		if hits < occ {
			missed = append(missed, secretNames[k])
		}
	}
	other = map[string]int{}
	for i, u := range used {
		if !u {
			other[rules[i]]++
		}
	}
	return found, total, missed, other
}

// jsonText is s as it appears inside a JSON string literal of the corpus.
func jsonText(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out := bytes.TrimSpace(b.Bytes())
	return string(out[1 : len(out)-1])
}
