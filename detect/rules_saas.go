package detect

import "strings"

// Token classes of the SaaS and productivity rules.
const (
	ClassOkta       = "okta"
	ClassAirtable   = "airtable"
	ClassNotion     = "notion"
	ClassLinear     = "linear"
	ClassAsana      = "asana"
	ClassHubSpot    = "hubspot"
	ClassIntercom   = "intercom"
	ClassZendesk    = "zendesk"
	ClassFigma      = "figma"
	ClassContentful = "contentful"
	ClassAlgolia    = "algolia"
	ClassMapbox     = "mapbox"
	ClassDropbox    = "dropbox"
	ClassTrello     = "trello"
	ClassTypeform   = "typeform"
	ClassClickUp    = "clickup"
	ClassPostHog    = "posthog"
	ClassEasyPost   = "easypost"
	ClassShippo     = "shippo"
	ClassPrefect    = "prefect"
	ClassReadme     = "readme"
	ClassDuffel     = "duffel"
	ClassFrameIO    = "frameio"
)

func saasRules() []Rule {
	var rules []Rule
	for _, g := range [][]Rule{workRules(), contentRules(), commerceToolRules()} {
		rules = append(rules, g...)
	}
	return rules
}

func workRules() []Rule {
	okta := "00" + fake("okta", csURL, 40)
	airtable := "pat" + fake("airt1", csAlnum, 14) + "." + fake("airt2", csHex, 64)
	ntn := "ntn_" + fake("ntn1", "0123456789", 11) + fake("ntn2", csAlnum, 35)
	notionOld := "secret_" + fake("notion", csAlnum, 43)
	linAPI := "lin_api_" + fake("linapi", csAlnum, 40)
	linOAuth := "lin_oauth_" + fake("linoauth", csHex, 64)
	asana := "2/" + fake("asana1", "0123456789", 16) + "/" + fake("asana2", "0123456789", 16) + ":" + fake("asana3", csHex, 32)
	asanaOld := "1/" + fake("asana4", "0123456789", 16) + ":" + fake("asana5", csAlnum, 32)
	hubspot := "pat-na1-" + fakeUUID("hubspot")
	intercom := b64std("tok:" + fakeUUID("intercom") + ":1:0")
	zendesk := fake("zendesk", csAlnum, 40)
	return []Rule{
		sampled(atKeyword(Rule{
			ID: "okta-api-token", Class: ClassOkta,
			Description: "Okta API token next to an Okta key name or after SSWS",
			Keywords:    []string{"okta", "authorization: ssws", `authorization": "ssws`},
			Pattern: `(?i:okta[\w.-]{0,24}?(?:key|token|secret)[\w.-]{0,12}?["']?\s*(?::=|=>|=|:)\s*["']?|authorization"?:\s*"?SSWS\s+)` +
				`(?P<secret>00[A-Za-z0-9_-]{40})(?:[^A-Za-z0-9_-]|$)`,
			Before: 1, After: 128, MinEntropy: 4.0,
		}),
			[]Sample{
				tp("OKTA_API_TOKEN=@@", okta),
				tp(`curl -H "Authorization: SSWS @@" https://acme.okta.com/api/v1/users`, okta),
				tp("okta.client.token=@@", okta),
			},
			"OKTA_API_TOKEN="+okta[:30],
			"Authorization: SSWS ${OKTA_API_TOKEN}",
			"okta_org_url: https://acme.okta.com",
		),
		sampled(shapeRule("airtable-pat", ClassAirtable, "Airtable personal access token",
			[]string{"pat"}, isAlnum, 4.0, segRun(isAlnum, 14, 14), segLit("."), segRun(isHexLower, 64, 64)),
			[]Sample{
				tp("AIRTABLE_API_KEY=@@", airtable),
				tp(`const base = new Airtable({apiKey: "@@"}).base("appAbCdEf12345678");`, airtable),
			},
			`{"path": "src/patterns.ts", "pattern": "patch"}`,
			"pat"+fake("airt1", csAlnum, 14)+"."+fake("airt2", csHex, 40),
			"file_"+airtable,
		),
		sampled(tokenRule("notion-api-token", ClassNotion, "Notion integration token (ntn_)",
			[]string{"ntn_"}, `ntn_[0-9]{11}[A-Za-z0-9]{35}`, tailAlnum, 56, 4.0),
			[]Sample{
				tp("NOTION_API_KEY=@@", ntn),
				tp(`const notion = new Client({ auth: "@@" })`, ntn),
			},
			"NOTION_API_KEY=ntn_...",
			"ntn_"+fake("ntn1", "0123456789", 11)+"short",
		),
		validated(sampled(shapeRule("notion-integration-token-legacy", ClassNotion, "Notion internal integration token (secret_, before ntn_)",
			[]string{"secret_"}, isAlnum, 4.0, segRun(isAlnum, 43, 43)),
			[]Sample{
				tp("NOTION_TOKEN=@@", notionOld),
				tp(`notion = Client(auth="@@")`, notionOld),
			},
			"secret_key_base = ENV.fetch('SECRET_KEY_BASE')",
			"secret_"+strings.Repeat("abcdefghij", 4)+"abc",
			"client_"+notionOld,
		), mixedCase(43)),
		sampled(tokenRule("linear-api-key", ClassLinear, "Linear personal API key",
			[]string{"lin_|api_"}, `lin_api_[A-Za-z0-9]{40}`, tailAlnum, 50, 4.0),
			[]Sample{
				tp("LINEAR_API_KEY=@@", linAPI),
				tp(`curl https://api.linear.app/graphql -H "Authorization: @@"`, linAPI),
			},
			"LINEAR_API_KEY=lin_api_xxxxxxxx",
			"lin_api_"+fake("linapi", csAlnum, 20),
		),
		sampled(tokenRule("linear-oauth-token", ClassLinear, "Linear OAuth access token",
			[]string{"lin_o|auth_"}, `lin_oauth_[a-f0-9]{64}`, tailAlnum, 76, 3.0),
			[]Sample{
				tp(`{"access_token": "@@", "token_type": "Bearer"}`, linOAuth),
				tp("LINEAR_OAUTH_TOKEN=@@", linOAuth),
			},
			"lin_oauth_"+fake("linoauth", csHex, 30),
			"LINEAR_OAUTH_TOKEN=lin_oauth_your_token",
		),
		sampled(keyedRule("asana-pat", ClassAsana, "Asana personal access token next to its key name",
			[]string{"asana"}, `asana`, `[0-9]/[0-9]{16}(?:/[0-9]{16})?:[A-Za-z0-9]{32}`, tailAlnum, 3.5),
			[]Sample{
				tp("ASANA_ACCESS_TOKEN=@@", asana),
				tp(`asana_pat: "@@"`, asanaOld),
			},
			"ASANA_WORKSPACE_ID=1234567890123456",
			"ASANA_ACCESS_TOKEN=2/1234567890123456/1234567890123456:short",
		),
		sampled(tokenRule("hubspot-private-app-token", ClassHubSpot, "HubSpot private app access token",
			[]string{"pat-na", "pat-eu", "pat-ap"}, `pat-(?:na|eu|ap)[0-9]-`+uuidRE, tailAlnum, 50, 3.5),
			[]Sample{
				tp("HUBSPOT_ACCESS_TOKEN=@@", hubspot),
				tp(`hubspot.Client(access_token="@@")`, hubspot),
			},
			"pat-na1-00000000-0000-0000-0000-000000000000",
			"HUBSPOT_ACCESS_TOKEN=pat-na1-<token>",
		),
		validated(sampled(tokenRule("intercom-access-token", ClassIntercom, "Intercom access token (base64 of tok:...)",
			[]string{"dG9rO"}, `dG9rO[A-Za-z0-9+/]{30,120}={0,2}`, tailB64, 130, 4.0),
			[]Sample{
				tp("INTERCOM_ACCESS_TOKEN=@@", intercom),
				tp(`curl https://api.intercom.io/me -H "Authorization: Bearer @@"`, intercom),
			},
			"dG9rO"+fake("intfp", csB64, 50),
			"INTERCOM_ACCESS_TOKEN=dG9rO...",
		), b64Prefix("tok:")),
		validated(sampled(keyedRule("zendesk-api-token", ClassZendesk, "Zendesk API token next to its key name",
			[]string{"zendesk"}, `zendesk`, `[A-Za-z0-9]{40}`, tailAlnum, 4.0),
			[]Sample{
				tp("ZENDESK_API_TOKEN=@@", zendesk),
				tp(`zendesk_token: "@@"`, zendesk),
			},
			"ZENDESK_SUBDOMAIN=acme",
			"zendesk_token_sha: "+fake("zdsha", csHex, 40),
		), mixedCase(40)),
	}
}

func contentRules() []Rule {
	figd := "figd_" + fake("figd", csURL, 40)
	cfpat := "CFPAT-" + fake("cfpat", csURL, 43)
	algolia := fake("algolia", csHex, 32)
	mapbox := "sk." + b64url(`{"u":"acme-maps","a":"`+fake("mapboxa", csAlnum, 12)+`"}`) + "." + fake("mapbox", csURL, 22)
	dropbox := "sl.B" + fake("dropbox", csURL, 136)
	trello := "ATTA" + fake("trello1", csHex, 64) + fake("trello2", "0123456789ABCDEF", 8)
	tfp := "tfp_" + fake("tfp", csURL, 59)
	clickup := "pk_" + fake("clickup1", "0123456789", 8) + "_" + fake("clickup2", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 32)
	phx := "phx_" + fake("phx", csAlnum, 43)
	return []Rule{
		sampled(tokenRule("figma-pat", ClassFigma, "Figma personal access token (figd_)",
			[]string{"f|igd_"}, `figd_[A-Za-z0-9_-]{38,50}`, tailURL, 60, 4.0),
			[]Sample{
				tp("FIGMA_ACCESS_TOKEN=@@", figd),
				tp(`curl -H "X-Figma-Token: @@" https://api.figma.com/v1/me`, figd),
			},
			"FIGMA_ACCESS_TOKEN=figd_xxxxxxxx",
			"figd_"+fake("figd", csURL, 20),
		),
		sampled(tokenRule("contentful-pat", ClassContentful, "Contentful content management personal access token",
			[]string{"CFPAT-"}, `CFPAT-[A-Za-z0-9_-]{43}`, tailURL, 52, 4.0),
			[]Sample{
				tp("CONTENTFUL_MANAGEMENT_TOKEN=@@", cfpat),
				tp("contentful space export --management-token @@ --space-id abc123", cfpat),
			},
			"CONTENTFUL_MANAGEMENT_TOKEN=CFPAT-xxxxxxxx",
			"CFPAT-"+fake("cfpat", csURL, 20),
		),
		sampled(keyedRule("algolia-admin-key", ClassAlgolia, "Algolia admin or write API key next to its key name",
			[]string{"algolia"}, `algolia[_.-]?(?:admin|write|api|secret)`, `[a-f0-9]{32}`, tailAlnum, 3.0),
			[]Sample{
				tp("ALGOLIA_ADMIN_KEY=@@", algolia),
				tp(`algolia_api_key: "@@"`, algolia),
			},
			"ALGOLIA_SEARCH_KEY="+algolia,
			"ALGOLIA_APP_ID=ABCDEF1234",
		),
		validated(sampled(tokenRule("mapbox-secret-token", ClassMapbox, "Mapbox secret access token (sk.)",
			[]string{"sk.eyJ"}, `sk\.eyJ[A-Za-z0-9_-]{20,400}\.[A-Za-z0-9_-]{20,30}`, tailURL, 440, 4.0),
			[]Sample{
				tp("MAPBOX_SECRET_TOKEN=@@", mapbox),
				tp("[machine api.mapbox.com]\nlogin mapbox\npassword @@\n", mapbox),
			},
			"mapboxgl.accessToken = 'pk."+b64url(`{"u":"acme"}`)+"."+fake("mbpk", csURL, 22)+"';",
			"sk.eyJ"+fake("mbfp", csURL, 40)+"."+fake("mbfp2", csURL, 22),
		), b64JSON(3, ".", "u")),
		sampled(tokenRule("dropbox-access-token", ClassDropbox, "Dropbox short-lived access token (sl.)",
			[]string{"sl."}, `sl\.(?:u\.)?[A-Za-z0-9_=-]{130,}`, tailURLEq, 1500, 4.0),
			[]Sample{
				tp("DROPBOX_ACCESS_TOKEN=@@", dropbox),
				tp(`dbx = dropbox.Dropbox("@@")`, dropbox),
			},
			"DROPBOX_ACCESS_TOKEN=sl.xxxx",
			"sl."+fake("dropbox", csURL, 60),
		),
		validated(sampled(tokenRule("trello-token", ClassTrello, "Trello API token (ATTA)",
			[]string{"ATTA"}, `ATTA[A-Za-z0-9]{60,72}`, tailAlnum, 80, 3.5),
			[]Sample{
				tp("TRELLO_TOKEN=@@", trello),
				tp(`curl "https://api.trello.com/1/members/me?key=abc&token=@@"`, trello),
			},
			"ATTACHMENT_STORAGE_DIRECTORY_FOR_UPLOADED_FILES_AND_IMAGES_AND_DOCS",
			"ATTA"+fake("trello1", csHex, 30),
		), hasDigitAndLetter),
		sampled(tokenRule("typeform-pat", ClassTypeform, "Typeform personal access token (tfp_)",
			[]string{"tfp_"}, `tfp_[A-Za-z0-9_.=-]{59}`, `A-Za-z0-9_.=-`, 70, 4.0),
			[]Sample{
				tp("TYPEFORM_TOKEN=@@", tfp),
				tp(`curl -H "Authorization: Bearer @@" https://api.typeform.com/forms`, tfp),
			},
			"TYPEFORM_TOKEN=tfp_xxxxxxxx",
			"tfp_"+fake("tfp", csURL, 30),
		),
		sampled(shapeRule("clickup-api-token", ClassClickUp, "ClickUp personal API token",
			[]string{"pk_"}, isAlnum, 3.5, segRun(isDigit, 6, 10), segLit("_"), segRun(isUpperNum, 32, 32)),
			[]Sample{
				tp("CLICKUP_API_TOKEN=@@", clickup),
				tp(`curl -H "Authorization: @@" https://api.clickup.com/api/v2/user`, clickup),
			},
			"pk_live_"+fake("pklive", csAlnum, 24),
			"pk_"+fake("clickup1", "0123456789", 8)+"_SHORT",
		),
		sampled(tokenRule("posthog-personal-api-key", ClassPostHog, "PostHog personal API key (phx_)",
			[]string{"phx_"}, `phx_[A-Za-z0-9]{40,50}`, tailAlnum, 60, 4.0),
			[]Sample{
				tp("POSTHOG_PERSONAL_API_KEY=@@", phx),
				tp(`curl -H "Authorization: Bearer @@" https://us.posthog.com/api/projects/`, phx),
			},
			"POSTHOG_PERSONAL_API_KEY=phx_xxxxxxxx",
			"phx_"+fake("phx", csAlnum, 20),
		),
	}
}

func commerceToolRules() []Rule {
	ezak := "EZAK" + fake("ezak", csAlnum, 54)
	eztk := "EZTK" + fake("eztk", csAlnum, 54)
	shippo := "shippo_live_" + fake("shippo", csHex, 40)
	pnu := "pnu_" + fake("pnu", csAlnum, 36)
	rdme := "rdme_" + fake("rdme", "abcdefghijklmnopqrstuvwxyz0123456789", 70)
	duffel := "duffel_live_" + fake("duffel", csURL, 43)
	fio := "fio-u-" + fake("fio", csURL, 64)
	return []Rule{
		sampled(tokenRule("easypost-api-key", ClassEasyPost, "EasyPost production or test API key",
			[]string{"EZAK", "EZTK"}, `EZ[AT]K[A-Za-z0-9]{54}`, tailAlnum, 64, 4.0),
			[]Sample{
				tp("EASYPOST_API_KEY=@@", ezak),
				tp(`client = easypost.EasyPostClient("@@")`, eztk),
			},
			"EZAKxxxxxxxx",
			"EZAK"+fake("ezak", csAlnum, 30),
		),
		sampled(tokenRule("shippo-api-token", ClassShippo, "Shippo live or test API token",
			[]string{"shippo_live_", "shippo_test_"}, `shippo_(?:live|test)_[a-fA-F0-9]{40}`, tailAlnum, 56, 3.0),
			[]Sample{
				tp("SHIPPO_API_KEY=@@", shippo),
				tp(`-H "Authorization: ShippoToken @@"`, shippo),
			},
			"SHIPPO_API_KEY=shippo_live_xxxxxxxx",
			"shippo_live_"+fake("shippo", csHex, 20),
		),
		sampled(tokenRule("prefect-api-key", ClassPrefect, "Prefect Cloud API key (pnu_)",
			[]string{"pnu_"}, `pnu_[A-Za-z0-9]{36}`, tailAlnum, 44, 4.0),
			[]Sample{
				tp("PREFECT_API_KEY=@@", pnu),
				tp("prefect cloud login --key @@ --workspace acme/prod", pnu),
			},
			"PREFECT_API_KEY=pnu_xxxxxxxx",
			"pnu_"+fake("pnu", csAlnum, 20),
		),
		sampled(tokenRule("readme-api-key", ClassReadme, "ReadMe API key (rdme_)",
			[]string{"rdme_"}, `rdme_[a-z0-9]{70}`, tailAlnum, 80, 4.0),
			[]Sample{
				tp("README_API_KEY=@@", rdme),
				tp("rdme openapi ./openapi.json --key=@@", rdme),
			},
			"README_API_KEY=rdme_xxxxxxxx",
			"rdme_"+fake("rdme", csHex, 40),
		),
		sampled(tokenRule("duffel-api-token", ClassDuffel, "Duffel live or test API token",
			[]string{"duffel_live_", "duffel_test_"}, `duffel_(?:live|test)_[A-Za-z0-9_=-]{43}`, tailURLEq, 60, 4.0),
			[]Sample{
				tp("DUFFEL_ACCESS_TOKEN=@@", duffel),
				tp(`const duffel = new Duffel({ token: "@@" })`, duffel),
			},
			"DUFFEL_ACCESS_TOKEN=duffel_test_xxxxxxxx",
			"duffel_live_"+fake("duffel", csURL, 20),
		),
		sampled(tokenRule("frameio-api-token", ClassFrameIO, "Frame.io developer token (fio-u-)",
			[]string{"fio-u-"}, `fio-u-[A-Za-z0-9_=-]{64}`, tailURLEq, 76, 4.0),
			[]Sample{
				tp("FRAMEIO_TOKEN=@@", fio),
				tp(`curl -H "Authorization: Bearer @@" https://api.frame.io/v2/me`, fio),
			},
			"FRAMEIO_TOKEN=fio-u-xxxxxxxx",
			"fio-u-"+fake("fio", csURL, 30),
		),
	}
}
