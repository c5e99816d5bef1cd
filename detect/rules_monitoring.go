package detect

import "strings"

// Token classes of the observability rules.
const (
	ClassDatadog   = "datadog"
	ClassNewRelic  = "newrelic"
	ClassGrafana   = "grafana"
	ClassHoneycomb = "honeycomb"
	ClassPagerDuty = "pagerduty"
	ClassDynatrace = "dynatrace"
	ClassSentry    = "sentry"
)

func monitoringRules() []Rule {
	ddAPI := fake("ddapi", csHex, 32)
	ddApp := fake("ddapp", csHex, 40)
	nrak := "NRAK-" + fake("nrak", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 27)
	nrii := "NRII-" + fake("nrii", csURL, 32)
	nral := fake("nral", csHex, 36) + "NRAL"
	glc := "glc_" + b64std(`{"o":"`+fake("glco", "0123456789", 6)+`","n":"stack-`+fake("glcn", "0123456789", 6)+`-hm-read-ci","k":"`+
		fake("glck", csAlnum, 24)+`","m":{"r":"prod-eu-west-2"}}`)
	glsa := grafanaSAToken("glsa")
	badGlsa := []byte(grafanaSAToken("glsabad"))
	badGlsa[8] ^= 1
	gapi := b64std(`{"k":"` + fake("gapik", csAlnum, 32) + `","n":"ci-admin","id":1}`)
	hcaik := "hcaik_01" + fake("hcaik", "0123456789abcdefghjkmnpqrstvwxyz", 56)
	pd := "u+" + fake("pd", csURL, 18)
	dt := "dt0c01." + fake("dt1", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 24) + "." + fake("dt2", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 64)
	sntrys := "sntrys_" + b64std(`{"iat":1735689600.0,"url":"https://sentry.io","region_url":"https://us.sentry.io","org":"acme"}`) + "_" + fake("sntrys", csB64, 43)
	sntryu := "sntryu_" + fake("sntryu", csHex, 64)
	return []Rule{
		sampled(keyedRule("datadog-api-key", ClassDatadog, "Datadog API key (32 hex) next to its key name or DD-API-KEY header",
			[]string{"adog", "dd_api", "dd-api"}, `(?:dat)?adog|dd[_.-]?api`, `[a-f0-9]{32}`, tailAlnum, 3.0),
			[]Sample{
				tp("DD_API_KEY=@@", ddAPI),
				tp(`curl -X POST https://api.datadoghq.com/api/v2/series -H "DD-API-KEY: @@" -d @metrics.json`, ddAPI),
				tp(`datadog_api_key: "@@"`, ddAPI),
			},
			"DD_API_KEY="+ddAPI[:31],
			"DD_SITE=datadoghq.eu",
			"DATADOG_API_KEY=${DD_API_KEY}",
		),
		sampled(keyedRule("datadog-app-key", ClassDatadog, "Datadog application key (40 hex) next to its key name or DD-APPLICATION-KEY header",
			[]string{"adog", "dd_app", "dd-app"}, `(?:dat)?adog|dd[_.-]?app(?:lication)?`, `[a-f0-9]{40}`, tailAlnum, 3.0),
			[]Sample{
				tp("DD_APP_KEY=@@", ddApp),
				tp(`-H "DD-APPLICATION-KEY: @@"`, ddApp),
				tp(`datadog_app_key = "@@"`, ddApp),
			},
			"DD_APP_KEY="+ddApp[:32],
			"datadog_commit_sha: "+fake("ddsha", csHex, 40),
		),
		validated(sampled(tokenRule("newrelic-user-key", ClassNewRelic, "New Relic user API key (NRAK-)",
			[]string{"NRAK-"}, `NRAK-[A-Z0-9]{27}`, tailAlnum, 40, 3.5),
			[]Sample{
				tp("NEW_RELIC_API_KEY=@@", nrak),
				tp(`curl https://api.newrelic.com/graphql -H "API-Key: @@"`, nrak),
			},
			"NEW_RELIC_API_KEY=NRAK-XXXXXXXXXXXXXXXXXXXXXXXXXXX",
			"NRAK-"+fake("nrak", csUpper, 12),
		), hasDigitAndLetter),
		sampled(tokenRule("newrelic-insert-key", ClassNewRelic, "New Relic insights insert key (NRII-)",
			[]string{"NRII-"}, `NRII-[A-Za-z0-9_-]{32}`, tailURL, 40, 3.5),
			[]Sample{
				tp("NEW_RELIC_INSERT_KEY=@@", nrii),
				tp(`-H "X-Insert-Key: @@"`, nrii),
			},
			"NRII-your-insert-key",
			"NRII-"+fake("nrii", csURL, 16),
		),
		sampled(Rule{
			ID: "newrelic-license-key", Class: ClassNewRelic,
			Description: "New Relic ingest license key (40 characters ending NRAL)",
			Keywords:    []string{"NRAL"}, CaseSensitive: true,
			Pattern: `(?:^|[^A-Za-z0-9])(?P<secret>[a-f0-9]{36}NRAL)(?:[^A-Za-z0-9]|$)`,
			Before:  40, After: 8, MinEntropy: 3.0,
		},
			[]Sample{
				tp("NEW_RELIC_LICENSE_KEY=@@", nral),
				tp("newrelic:\n  license_key: '@@'\n", nral),
			},
			"GENERAL NRAL notes",
			fake("nral", csHex, 20)+"NRAL",
			"x"+nral,
		),
		validated(sampled(tokenRule("grafana-cloud-token", ClassGrafana, "Grafana Cloud access policy token (glc_)",
			[]string{"glc_"}, `glc_[A-Za-z0-9+/]{32,}={0,3}`, tailB64, 400, 4.0),
			[]Sample{
				tp("GRAFANA_CLOUD_TOKEN=@@", glc),
				tp("basic_auth:\n  username: \"123456\"\n  password: \"@@\"", glc),
			},
			"GRAFANA_CLOUD_TOKEN=glc_...",
			"glc_"+fake("glcfp", csB64, 60),
		), b64JSON(4, "", "o", "n", "k")),
		validated(sampled(tokenRule("grafana-service-account-token", ClassGrafana, "Grafana service account token (glsa_, CRC-32 checked)",
			[]string{"glsa_"}, `glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}`, tailAlnum, 48, 3.5),
			[]Sample{
				tp("GRAFANA_SERVICE_ACCOUNT_TOKEN=@@", glsa),
				tp(`curl -H "Authorization: Bearer @@" https://grafana.acme.test/api/dashboards/home`, glsa),
			},
			string(badGlsa),
			"glsa_"+fake("glsafp", csAlnum, 32)+"_"+fake("glsafp2", csHex, 8),
		), grafanaSATokenOK),
		validated(sampled(tokenRule("grafana-api-key", ClassGrafana, "Grafana API key (legacy, base64 JSON with k, n and id)",
			[]string{"eyJrIjoi"}, `eyJrIjoi[A-Za-z0-9+/]{40,400}={0,3}`, tailB64, 420, 4.0),
			[]Sample{
				tp("GRAFANA_API_KEY=@@", gapi),
				tp(`GrafanaClient("@@", host=grafana_host, port=3000)`, gapi),
			},
			"https://app.powerbi.com/view?r="+b64std(`{"k":"`+fakeUUID("pbi")+`","t":"`+fakeUUID("pbit")+`","c":9}`),
			"eyJrIjoi"+fake("gapifp", csAlnum, 60),
		), b64JSON(0, "", "k", "n", "id")),
		sampled(tokenRule("honeycomb-api-key", ClassHoneycomb, "Honeycomb ingest or configuration API key (hcaik_, hcaic_)",
			[]string{"hcaik_", "hcaic_"}, `hcai[kc]_[0-9a-z]{58}`, tailAlnum, 70, 4.0),
			[]Sample{
				tp(`OTEL_EXPORTER_OTLP_HEADERS="x-honeycomb-team=@@"`, hcaik),
				tp("HONEYCOMB_API_KEY=@@", hcaik),
			},
			"HONEYCOMB_API_KEY=hcaik_xxxxxxxxxxxx",
			"hcaik_01"+fake("hcaik", csHex, 20),
		),
		validated(sampled(keyedRule("pagerduty-api-key", ClassPagerDuty, "PagerDuty REST API key next to its key name",
			[]string{"rduty"}, `(?:page)?rduty`, `[A-Za-z0-9_+-]{20}`, `A-Za-z0-9_+-`, 3.5),
			[]Sample{
				tp("PAGERDUTY_API_KEY=@@", pd),
				tp(`pagerduty_token: "@@"`, pd),
			},
			"PAGERDUTY_SERVICE_ID=P"+fake("pdsvc", csUpper, 6),
			"pagerduty_routing_key: "+strings.Repeat("ab", 10),
		), func(b []byte) bool { return charClasses(b) >= 3 }),
		sampled(tokenRule("dynatrace-api-token", ClassDynatrace, "Dynatrace API or platform token (dt0c01.)",
			[]string{"dt0c01."}, `dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}`, tailAlnum, 100, 4.0),
			[]Sample{
				tp("DT_API_TOKEN=@@", dt),
				tp(`curl -H "Authorization: Api-Token @@" https://abc123.live.dynatrace.com/api/v2/metrics`, dt),
			},
			"DT_API_TOKEN=dt0c01.XXXXXXXX",
			"dt0c01."+fake("dt1", csUpper, 24)+".short",
		),
		validated(sampled(tokenRule("sentry-org-token", ClassSentry, "Sentry organization auth token (sntrys_)",
			[]string{"sntrys_eyJ"}, `sntrys_eyJ[A-Za-z0-9+/]{30,}={0,2}_[A-Za-z0-9+/]{43}`, tailB64, 600, 4.0),
			[]Sample{
				tp("SENTRY_AUTH_TOKEN=@@", sntrys),
				tp("sentry-cli --auth-token @@ releases new 1.2.3", sntrys),
			},
			"SENTRY_AUTH_TOKEN=sntrys_eyJ...",
			"sntrys_eyJ"+fake("sntfp", csB64, 60)+"_"+fake("sntfp2", csB64, 43),
		), b64JSON(7, "_", "iat", "region_url")),
		sampled(tokenRule("sentry-user-token", ClassSentry, "Sentry user auth token (sntryu_)",
			[]string{"sntryu_"}, `sntryu_[a-f0-9]{64}`, tailAlnum, 72, 3.0),
			[]Sample{
				tp("SENTRY_AUTH_TOKEN=@@", sntryu),
				tp("[auth]\ntoken=@@\n", sntryu),
			},
			"SENTRY_AUTH_TOKEN=sntryu_xxxxxxxx",
			"sntryu_"+fake("sntryu", csHex, 40),
		),
	}
}
