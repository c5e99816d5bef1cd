package detect

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// rulesDocAreas orders the areas of RULES.md and names the token classes in each.
var rulesDocAreas = []struct {
	name    string
	classes []string
}{
	{"Cloud and infrastructure", []string{ClassAWS, ClassGoogle, ClassFirebase, ClassAzure, ClassDigitalOcean, ClassCloudflare,
		ClassHeroku, ClassFly, ClassVercel, ClassNetlify, ClassLinode, ClassAlibaba, ClassTencent, ClassIBM, ClassYandex,
		ClassScaleway, ClassHetzner, ClassTailscale, ClassNgrok}},
	{"Source control, CI/CD, registries and developer tools", []string{ClassGitHub, ClassGitLab, ClassAtlassian, ClassCircleCI,
		ClassTravis, ClassBuildkite, ClassJenkins, ClassHashiCorp, ClassDoppler, ClassPulumi, ClassNPM, ClassPyPI, ClassRubyGems,
		ClassNuGet, ClassCrates, ClassDocker, ClassJFrog, ClassSonar, ClassSourcegraph, ClassSnyk, ClassPostman, ClassOnePassword}},
	{"Observability", []string{ClassDatadog, ClassNewRelic, ClassGrafana, ClassHoneycomb, ClassPagerDuty, ClassDynatrace, ClassSentry}},
	{"SaaS and productivity", []string{ClassOkta, ClassAirtable, ClassNotion, ClassLinear, ClassAsana, ClassHubSpot, ClassIntercom,
		ClassZendesk, ClassFigma, ClassContentful, ClassAlgolia, ClassMapbox, ClassDropbox, ClassTrello, ClassTypeform, ClassClickUp,
		ClassPostHog, ClassEasyPost, ClassShippo, ClassPrefect, ClassReadme, ClassDuffel, ClassFrameIO}},
	{"Payments and commerce", []string{ClassStripe, ClassShopify, ClassSquare, ClassPayPal, ClassPlaid, ClassCoinbase, ClassFlutterwave}},
	{"Messaging, e-mail and social", []string{ClassSlack, ClassTwilio, ClassSendGrid, ClassDiscord, ClassTelegram, ClassMailgun,
		ClassMailchimp, ClassPostmark, ClassBrevo, ClassResend, ClassMailerSend, ClassTeams, ClassMeta, ClassTwitter}},
	{"Databases and data platforms", []string{ClassPlanetScale, ClassSupabase, ClassMongoDB, ClassDatabricks, ClassClickHouse, ClassInfluxDB}},
	{"AI providers", []string{ClassOpenAI, ClassAnthropic, ClassHuggingFace, ClassReplicate, ClassGroq, ClassPerplexity, ClassXAI,
		ClassMistral, ClassCohere, ClassTogether, ClassFireworks, ClassDeepSeek, ClassOpenRouter, ClassLangChain, ClassPinecone,
		ClassElevenLabs, ClassNVIDIA, ClassLangfuse, ClassTavily, ClassFirecrawl, ClassWandB}},
	{"Keys and tokens", []string{ClassPrivateKey, ClassJWT, ClassAge, ClassWireGuard}},
	{"Context-based (passwords, generic secrets, headers, command lines)", []string{ClassPassword, ClassSecret}},
}

// rulesDoc renders the default catalog as the markdown of RULES.md.
func rulesDoc(t *testing.T) string {
	t.Helper()
	rules := DefaultRules()
	area := map[string]int{}
	for i, a := range rulesDocAreas {
		for _, c := range a.classes {
			area[c] = i
		}
	}
	byArea := make([][]Rule, len(rulesDocAreas))
	classes := map[string]bool{}
	for _, r := range rules {
		i, ok := area[r.Class]
		if !ok {
			t.Errorf("rule %s: class %q has no area in rulesDocAreas", r.ID, r.Class)
			continue
		}
		byArea[i] = append(byArea[i], r)
		classes[r.Class] = true
	}
	var b strings.Builder
	b.WriteString("# Detection rules\n\n")
	b.WriteString("<!-- Generated from detect.DefaultRules() by `UPDATE_RULES=1 go test ./detect -run TestRulesDoc`. Do not edit. -->\n\n")
	fmt.Fprintf(&b, "The default catalog has %d rules in %d token classes. A finding's class names the token that replaces the secret "+
		"(`cloak_<class>_...`). Every rule ships with true and false positive samples that `go test ./detect` runs.\n", len(rules), len(classes))
	for i, a := range rulesDocAreas {
		if len(byArea[i]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s (%d)\n\n| Rule | Class | Finds |\n|---|---|---|\n", a.name, len(byArea[i]))
		for _, r := range byArea[i] {
			fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", r.ID, r.Class, strings.ReplaceAll(r.Description, "|", `\|`))
		}
	}
	return b.String()
}

// TestRulesDoc fails when RULES.md does not list the default catalog as it is;
// UPDATE_RULES=1 rewrites it.
func TestRulesDoc(t *testing.T) {
	want := rulesDoc(t)
	if os.Getenv("UPDATE_RULES") == "1" {
		if err := os.WriteFile("RULES.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile("RULES.md")
	if err != nil {
		t.Fatalf("read RULES.md: %v (run UPDATE_RULES=1 go test ./detect -run TestRulesDoc)", err)
	}
	if string(got) != want {
		t.Error("RULES.md is out of date: run UPDATE_RULES=1 go test ./detect -run TestRulesDoc")
	}
}
