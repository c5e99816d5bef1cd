package detect

// Token classes of the default catalog.
const (
	ClassAWS        = "aws"
	ClassGitHub     = "github"
	ClassGitLab     = "gitlab"
	ClassSlack      = "slack"
	ClassStripe     = "stripe"
	ClassOpenAI     = "openai"
	ClassAnthropic  = "anthropic"
	ClassGoogle     = "google"
	ClassNPM        = "npm"
	ClassSendGrid   = "sendgrid"
	ClassTwilio     = "twilio"
	ClassJWT        = "jwt"
	ClassPrivateKey = "privatekey"
	ClassPassword   = "password"
	ClassSecret     = "secret"
)

// assign is the tail of a key name up to an assignment operator and an optional
// opening quote: `_KEY = "`, `": "`, `:`, `=>`.
const assign = `[\w.-]{0,30}?["']?\s*(?::=|=>|=|:)\s*["']?`

// DefaultRules returns the built-in catalog, a fresh copy on each call.
func DefaultRules() []Rule {
	var rules []Rule
	for _, group := range [][]Rule{cloudRules(), vcsRules(), chatRules(), paymentRules(), aiRules(), structuralRules(), contextRules(),
		cloudMoreRules(), ciRules(), monitoringRules(), saasRules(), paymentMoreRules(), messagingRules(), dataRules(), aiMoreRules(), keyMoreRules(), genericMoreRules()} {
		rules = append(rules, group...)
	}
	return rules
}

func cloudRules() []Rule {
	akid := "AKIA" + fake("akid", csUpper, 16)
	asia := "ASIA" + fake("asia", csUpper, 16)
	awsSecret := fake("awssecret", csB64, 40)
	gkey := "AIza" + fake("google", csURL, 35)
	sg := "SG." + fake("sg1", csURL, 22) + "." + fake("sg2", csURL, 43)
	twKey := "SK" + fake("twilio", csHex, 32)
	twTok := fake("twiliotok", csHex, 32)
	return []Rule{{
		ID:            "aws-access-key-id",
		Class:         ClassAWS,
		Description:   "AWS access key ID (long-term AKIA, temporary ASIA)",
		Keywords:      []string{"AKIA", "ASIA", "ABIA", "ACCA", "A3T"},
		CaseSensitive: true,
		Anchored:      true,
		Pattern:       `\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b`,
		Before:        1, After: 24,
		MinEntropy: 3.0,
		TruePositives: []Sample{
			tp("aws_access_key_id = @@", akid),
			tp(`{"AccessKeyId": "@@", "Expiration": "2025-01-01T00:00:00Z"}`, asia),
			tp("the key @@ was rotated", akid),
		},
		FalsePositives: fp(
			"aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
			"x"+akid,
			akid[:19],
			"lowercase akia"+fake("akidl", "abcdefghijklmnopqrstuvwxyz234567", 16),
			"Offices in ASIA and Europe; ASIAN markets.",
			"AKIAAAAAAAAAAAAAAAAA",
		),
	}, atKeyword(Rule{ // anchored at the key name: one attempt per hit, no window search
		ID:          "aws-secret-access-key",
		Class:       ClassAWS,
		Description: "AWS secret access key next to its key name",
		Keywords:    []string{"secret_access_key", "secretaccesskey", "secret-access-key", "aws_secret", "aws-secret", "awssecret"},
		Pattern:     `(?i)(?:secret[_.-]?access[_.-]?key|aws[_.-]?secret(?:[_.-]?key)?)` + assign + `(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`,
		Before:      8, After: 128,
		MinEntropy: 4.0,
		keyHits:    true, // one key name, one secret, whichever keyword of it is hit
		TruePositives: []Sample{
			tp("aws_secret_access_key = @@", awsSecret),
			tp("AWS_SECRET_ACCESS_KEY=@@\n", awsSecret),
			tp(`"SecretAccessKey": "@@",`, awsSecret),
			tp("export AWS_SECRET_KEY='@@'", awsSecret),
		},
		FalsePositives: fp(
			"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			"AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}",
			"aws_secret_access_key = "+awsSecret+"AB",
			"secret_access_key: 3f786850e387550fdab836ed7e6dc881de23001b",
			"the docs mention aws_secret_access_key and nothing else",
		),
	}), {
		ID:            "google-api-key",
		Class:         ClassGoogle,
		Description:   "Google API key",
		Keywords:      []string{"AIza"},
		CaseSensitive: true,
		Anchored:      true,
		Pattern:       `\b(?P<secret>AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)`,
		Before:        1, After: 48,
		MinEntropy: 3.0,
		TruePositives: []Sample{
			tp("GOOGLE_API_KEY=@@", gkey),
			tp(`fetch("https://maps.googleapis.com/maps/api/js?key=@@&callback=init")`, gkey),
		},
		FalsePositives: fp(
			"AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
			gkey[:30],
			gkey+"abc",
		),
	}, {
		ID:            "sendgrid-api-key",
		Class:         ClassSendGrid,
		Description:   "SendGrid API key",
		Keywords:      []string{"SG."},
		CaseSensitive: true,
		Anchored:      true,
		Pattern:       `\b(?P<secret>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)`,
		Before:        1, After: 80,
		MinEntropy: 3.5,
		TruePositives: []Sample{
			tp("SENDGRID_API_KEY=@@", sg),
			tp(`sg = SendGridAPIClient("@@")`, sg),
		},
		FalsePositives: fp(
			"MSG.content = SG.length",
			"SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		),
	}, {
		ID:            "twilio-api-key",
		Class:         ClassTwilio,
		Description:   "Twilio API key SID (SK...)",
		Keywords:      []string{"SK"},
		CaseSensitive: true,
		Anchored:      true,
		Pattern:       `\bSK[0-9a-fA-F]{32}\b`,
		Before:        1, After: 40,
		MinEntropy: 3.0,
		TruePositives: []Sample{
			tp("TWILIO_API_KEY=@@", twKey),
			tp(`client = Client("@@", os.environ["TWILIO_API_SECRET"], account_sid)`, twKey),
		},
		FalsePositives: fp(
			"TWILIO_ACCOUNT_SID=AC"+fake("twac", csHex, 32),
			"SKU 12345 and TASK list",
			twKey[:33],
			"SK00000000000000000000000000000000",
		),
	}, {
		ID:          "twilio-auth-token",
		Class:       ClassTwilio,
		Description: "Twilio auth token next to a twilio key name",
		Keywords:    []string{"twilio"},
		Pattern:     `(?i)twilio[\w.-]{0,30}?(?:auth[_.-]?token|token|secret)` + assign + `(?P<secret>[0-9a-f]{32})(?:[^0-9A-Za-z]|$)`,
		Before:      1, After: 96,
		MinEntropy: 3.0,
		TruePositives: []Sample{
			tp("TWILIO_AUTH_TOKEN=@@", twTok),
			tp(`twilio_token: "@@"`, twTok),
		},
		FalsePositives: fp(
			"TWILIO_AUTH_TOKEN=your_auth_token",
			"TWILIO_ACCOUNT_SID=AC"+twTok,
			"twilio_auth_token = 00000000000000000000000000000000",
		),
	}}
}

func vcsRules() []Rule {
	ghp := githubToken("ghp_", "ghp")
	gho := githubToken("gho_", "gho")
	ghs := githubToken("ghs_", "ghs")
	ghu := githubToken("ghu_", "ghu")
	ghr := githubToken("ghr_", "ghr")
	bad := []byte(githubToken("ghp_", "bad"))
	bad[10] ^= 1 // break the checksum
	fine := "github_pat_" + fake("fgp1", csAlnum, 22) + "_" + fake("fgp2", csAlnum, 59)
	glpat := "glpat-" + fake("glpat", csURL, 20)
	glrt := "glrt-" + fake("glrt", csURL, 20)
	gldt := "gldt-" + fake("gldt", csURL, 20)
	gh := func(id, desc, pattern string, kws []string, tps []Sample, fps []Sample) Rule {
		return Rule{
			ID: id, Class: ClassGitHub, Description: desc,
			Keywords: kws, CaseSensitive: true, Anchored: true,
			Pattern: pattern, After: 48,
			MinEntropy: 3.0, Validate: githubChecksumOK,
			TruePositives: tps, FalsePositives: fps,
		}
	}
	return []Rule{
		gh("github-pat", "GitHub classic personal access token (checksummed)", `\bghp_[A-Za-z0-9]{36}\b`, []string{"ghp_"},
			[]Sample{
				tp("export GITHUB_TOKEN=@@", ghp),
				tp(`{"token": "@@"}`, ghp),
				tp("git clone https://@@@github.com/org/repo.git", ghp),
				tp("Authorization: token @@", ghp),
			},
			fp(string(bad), "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", ghp[:39], ghp+"0", "GHP_"+ghp[4:])),
		gh("github-oauth", "GitHub OAuth access token (checksummed)", `\bgho_[A-Za-z0-9]{36}\b`, []string{"gho_"},
			[]Sample{tp("oauth_token: @@", gho), tp(`{"access_token":"@@","token_type":"bearer","scope":"repo"}`, gho)},
			fp("gho_"+fake("gho-bad", csAlnum, 36), "gho_"+fake("gho-short", csAlnum, 20))),
		gh("github-app-token", "GitHub App user-to-server or server-to-server token (checksummed)", `\bgh[su]_[A-Za-z0-9]{36}\b`, []string{"ghs_", "ghu_"},
			[]Sample{tp("GH_TOKEN=@@", ghs), tp("token=@@;", ghu)},
			fp("ghs_"+fake("ghs-bad", csAlnum, 36), "ghu_"+fake("ghu-short", csAlnum, 20))),
		gh("github-refresh-token", "GitHub refresh token (checksummed)", `\bghr_[A-Za-z0-9]{36}\b`, []string{"ghr_"},
			[]Sample{tp(`"refresh_token": "@@"`, ghr), tp("GITHUB_REFRESH_TOKEN=@@", ghr)},
			fp("ghr_"+fake("ghr-bad", csAlnum, 36), "ghr_"+fake("ghr-short", csAlnum, 20))),
		{
			ID:            "github-fine-grained-pat",
			Class:         ClassGitHub,
			Description:   "GitHub fine-grained personal access token",
			Keywords:      []string{"github_pat_"},
			CaseSensitive: true,
			Anchored:      true,
			Pattern:       `\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b`,
			Before:        1, After: 96,
			MinEntropy: 3.5,
			TruePositives: []Sample{
				tp("GITHUB_TOKEN=@@", fine),
				tp("gh auth login --with-token <<< '@@'", fine),
			},
			FalsePositives: fp("github_pat_your_token_here", fine[:80], "github_pat_"+fake("fgp3", csAlnum, 22)),
		}, {
			ID:            "gitlab-pat",
			Class:         ClassGitLab,
			Description:   "GitLab personal, project or group access token",
			Keywords:      []string{"glpat-"},
			CaseSensitive: true,
			Match:         matchGitLabPAT,
			MinEntropy:    3.0,
			TruePositives: []Sample{
				tp("GITLAB_TOKEN=@@", glpat),
				tp(`curl --header "PRIVATE-TOKEN: @@" https://gitlab.com/api/v4/projects`, glpat),
			},
			FalsePositives: fp("glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-short", "glpat-"+fake("gl", csURL, 19)),
		}, {
			ID:            "gitlab-token",
			Class:         ClassGitLab,
			Description:   "GitLab deploy, runner, trigger, OAuth, feed or CI token",
			Keywords:      []string{"gldt-", "glrt-", "glptt-", "gloas-", "glsoat-", "glcbt-", "glft-", "glimt-", "glagent-"},
			CaseSensitive: true,
			Anchored:      true,
			Pattern:       `\b(?P<secret>(?:gldt|glrt|glptt|gloas|glsoat|glcbt|glft|glimt|glagent)-[A-Za-z0-9_-]{20,80})(?:[^A-Za-z0-9_-]|$)`,
			Before:        1, After: 112,
			MinEntropy: 3.0,
			TruePositives: []Sample{
				tp("gitlab-runner register --token @@", glrt),
				tp("deploy_token: @@", gldt),
			},
			FalsePositives: fp("gldt-your-deploy-token-here", "glrt-"+fake("glrt2", csURL, 10)),
		},
	}
}

func chatRules() []Rule {
	bot := "xoxb-" + fake("xoxb1", "0123456789", 12) + "-" + fake("xoxb2", "0123456789", 13) + "-" + fake("xoxb3", csAlnum, 24)
	user := "xoxp-" + fake("xoxp1", "0123456789", 12) + "-" + fake("xoxp2", "0123456789", 12) + "-" + fake("xoxp3", "0123456789", 13) + "-" + fake("xoxp4", csHex, 32)
	app := "xapp-1-A" + fake("xapp1", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10) + "-" + fake("xapp2", "0123456789", 13) + "-" + fake("xapp3", csHex, 64)
	hook := "T" + fake("hook1", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8) + "/B" + fake("hook2", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10) + "/" + fake("hook3", csAlnum, 24)
	slack := func(id, desc string, kws []string, pattern string, after int, tps []Sample, fps []Sample) Rule {
		return Rule{
			ID: id, Class: ClassSlack, Description: desc,
			Keywords: kws, CaseSensitive: true, Pattern: pattern, After: after,
			Anchored: id != "slack-webhook-url", Before: 1,
			MinEntropy: 3.0, TruePositives: tps, FalsePositives: fps,
		}
	}
	return []Rule{
		slack("slack-bot-token", "Slack bot token", []string{"xoxb-"},
			`\bxoxb-[0-9]{8,13}(?:-[0-9]{8,13})?-[A-Za-z0-9]{20,40}\b`, 80,
			[]Sample{tp("SLACK_BOT_TOKEN=@@", bot), tp(`client = WebClient(token="@@")`, bot)},
			fp("xoxb-your-bot-token", "xoxb-123456789012-1234567890123-xxxxxxxxxxxxxxxxxxxxxxxx", "xoxb-"+fake("xb", csAlnum, 30))),
		slack("slack-user-token", "Slack user, workspace or refresh token", []string{"xoxp-", "xoxa-", "xoxe-"},
			`\bxox[pae]-[0-9]{1,13}(?:-[0-9]{1,13}){0,3}-[A-Za-z0-9]{20,64}\b`, 120,
			[]Sample{tp("SLACK_USER_TOKEN=@@", user), tp("token: @@", "xoxa-2-"+fake("xoxa", csAlnum, 40))},
			fp("xoxp-your-user-token", "xoxp-"+fake("xp", csAlnum, 40))),
		slack("slack-app-token", "Slack app-level token", []string{"xapp-"},
			`\bxapp-[0-9]-[A-Z0-9]{8,16}-[0-9]{8,16}-[A-Za-z0-9]{24,80}\b`, 128,
			[]Sample{tp("SLACK_APP_TOKEN=@@", app), tp(`handler = SocketModeHandler(app, "@@")`, app)},
			fp("xapp-1-your-app-token", "xapp-1-A0000000000-0000000000000-"+fake("xa", csHex, 5))),
		slack("slack-webhook-url", "Slack incoming webhook URL (the path is the secret)", []string{"hooks.slack.com/services/"},
			`hooks\.slack\.com/services/(?P<secret>[A-Z0-9]{8,12}/[A-Z0-9]{8,12}/[A-Za-z0-9]{20,48})(?:[^A-Za-z0-9]|$)`, 96,
			[]Sample{tp("SLACK_WEBHOOK=https://hooks.slack.com/services/@@", hook), tp(`curl -X POST "https://hooks.slack.com/services/@@" -d '{}'`, hook)},
			fp("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "see https://hooks.slack.com/services/ for docs")),
	}
}

func paymentRules() []Rule {
	live := "sk_live_" + fake("sklive", csAlnum, 24)
	test := "sk_test_" + fake("sktest", csAlnum, 24)
	rk := "rk_live_" + fake("rklive", csAlnum, 99)
	whsec := "whsec_" + fake("whsec", csAlnum, 32)
	return []Rule{{
		ID:            "stripe-secret-key",
		Class:         ClassStripe,
		Description:   "Stripe secret or restricted key (live or test)",
		Keywords:      []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"},
		CaseSensitive: true,
		Anchored:      true,
		Pattern:       `\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,247}\b`,
		Before:        1, After: 264,
		MinEntropy: 3.0,
		TruePositives: []Sample{
			tp("STRIPE_SECRET_KEY=@@", live),
			tp("curl https://api.stripe.com/v1/charges -u @@: -d amount=2000", live),
			tp(`stripe.api_key = "@@"`, test),
			tp("key @@ restricted", rk),
		},
		FalsePositives: fp(
			"sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
			"pk_live_"+fake("pklive", csAlnum, 24),
			"sk_live_your_key_here",
			"sk_test_short",
		),
	}, {
		ID:            "stripe-webhook-secret",
		Class:         ClassStripe,
		Description:   "Stripe webhook signing secret",
		Keywords:      []string{"whsec_"},
		CaseSensitive: true,
		Anchored:      true,
		Pattern:       `\bwhsec_[A-Za-z0-9+/]{32,64}\b`,
		Before:        1, After: 80,
		MinEntropy: 3.0,
		TruePositives: []Sample{
			tp("STRIPE_WEBHOOK_SECRET=@@", whsec),
			tp("> Ready! Your webhook signing secret is @@ (^C to quit)", whsec),
		},
		FalsePositives: fp("whsec_...", "whsec_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
	}}
}

func aiRules() []Rule {
	proj := "sk-proj-" + fake("proj1", csURL, 74) + "T3BlbkFJ" + fake("proj2", csURL, 74)
	svc := "sk-svcacct-" + fake("svc", csURL, 64)
	legacy := "sk-" + fake("leg1", csAlnum, 20) + "T3BlbkFJ" + fake("leg2", csAlnum, 20)
	ant := "sk-ant-api03-" + fake("ant", csURL, 93) + "AA"
	antAdmin := "sk-ant-admin01-" + fake("antadm", csURL, 93) + "AA"
	antOAT := "sk-ant-oat01-" + fake("antoat", csURL, 93) + "AA"
	npm := githubToken("npm_", "npm")
	// The key is its prefix and 20 to 300 URL-safe base64 bytes, then none: a shape
	// matcher, not a pattern, as text made of the prefix repeated costs a pattern's
	// window on every hit and then Go's NFA over a bounded repetition (1.3 MB/s).
	openai := shapeRule("openai-api-key", ClassOpenAI, "OpenAI project, service account or admin key",
		[]string{"sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"}, isB64URL, 3.5, segRun(isB64URL, 20, 300))
	return []Rule{sampled(openai,
		[]Sample{
			tp("OPENAI_API_KEY=@@", proj),
			tp(`client = OpenAI(api_key="@@")`, svc),
		},
		"OPENAI_API_KEY=sk-proj-your-api-key-here",
		"sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"task-proj-"+fake("taskproj", csURL, 40),
	), {
		ID:            "openai-legacy-key",
		Class:         ClassOpenAI,
		Description:   "OpenAI user key with the T3BlbkFJ marker",
		Keywords:      []string{"T3BlbkFJ"},
		CaseSensitive: true,
		Pattern:       `\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b`,
		Before:        32, After: 32,
		MinEntropy: 3.5,
		TruePositives: []Sample{
			tp("openai.api_key = '@@'", legacy),
			tp("OPENAI_API_KEY=@@", legacy),
		},
		FalsePositives: fp("T3BlbkFJ alone", "sk-"+fake("leg3", csAlnum, 19)+"T3BlbkFJ"+fake("leg4", csAlnum, 20)),
	}, {
		ID:            "anthropic-api-key",
		Class:         ClassAnthropic,
		Description:   "Anthropic API key",
		Keywords:      []string{"sk-ant-api"},
		CaseSensitive: true,
		Anchored:      true,
		Pattern:       `\b(?P<secret>sk-ant-api[0-9]{2}-[A-Za-z0-9_-]{80,200})(?:[^A-Za-z0-9_-]|$)`,
		Before:        1, After: 224,
		MinEntropy: 3.5,
		TruePositives: []Sample{
			tp("ANTHROPIC_API_KEY=@@", ant),
			tp(`-H "x-api-key: @@"`, ant),
		},
		FalsePositives: fp("sk-ant-api03-...", "ANTHROPIC_API_KEY=sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
	}, {
		ID:            "anthropic-admin-key",
		Class:         ClassAnthropic,
		Description:   "Anthropic admin API key",
		Keywords:      []string{"sk-ant-admin"},
		CaseSensitive: true,
		Anchored:      true,
		Pattern:       `\b(?P<secret>sk-ant-admin[0-9]{2}-[A-Za-z0-9_-]{80,200})(?:[^A-Za-z0-9_-]|$)`,
		Before:        1, After: 224,
		MinEntropy: 3.5,
		TruePositives: []Sample{
			tp("ANTHROPIC_ADMIN_KEY=@@", antAdmin),
			tp(`curl https://api.anthropic.com/v1/organizations/users -H "x-api-key: @@"`, antAdmin),
		},
		FalsePositives: fp("sk-ant-admin01-your-admin-key", "sk-ant-admin01-..."),
	}, {
		ID:            "anthropic-oauth-token",
		Class:         ClassAnthropic,
		Description:   "Anthropic OAuth access or refresh token (Claude Code)",
		Keywords:      []string{"sk-ant-oat", "sk-ant-ort"},
		CaseSensitive: true,
		Anchored:      true,
		Pattern:       `\b(?P<secret>sk-ant-o[ar]t[0-9]{2}-[A-Za-z0-9_-]{40,200})(?:[^A-Za-z0-9_-]|$)`,
		Before:        1, After: 224,
		MinEntropy: 3.5,
		TruePositives: []Sample{
			tp("CLAUDE_CODE_OAUTH_TOKEN=@@", antOAT),
			tp(`{"claudeAiOauth": {"accessToken": "@@", "expiresAt": 1735689600000}}`, antOAT),
		},
		FalsePositives: fp("sk-ant-oat01-abc", "sk-ant-ort01-..."),
	}, {
		ID:            "npm-token",
		Class:         ClassNPM,
		Description:   "npm access token (checksummed like GitHub's)",
		Keywords:      []string{"npm_"},
		CaseSensitive: true,
		Anchored:      true,
		Pattern:       `\bnpm_[A-Za-z0-9]{36}\b`,
		Before:        1, After: 48,
		MinEntropy: 3.0, Validate: githubChecksumOK,
		TruePositives: []Sample{
			tp("//registry.npmjs.org/:_authToken=@@", npm),
			tp("NPM_TOKEN=@@", npm),
		},
		FalsePositives: fp("npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "npm_config_registry=https://registry.npmjs.org/", npm+"x",
			"NPM_TOKEN=npm_"+fake("npm", csAlnum, 36)),
	}}
}

func structuralRules() []Rule {
	jwt := fakeJWT("jwt")
	enc := "eyJ" // keeps literal JWT-looking prefixes out of the FP strings below
	rsa := fakePEM("RSA PRIVATE KEY", "rsa", 12, "\n")
	p8 := fakePEM("PRIVATE KEY", "p8", 8, "\n")
	ossh := fakePEM("OPENSSH PRIVATE KEY", "ossh", 6, "\n")
	ec := fakePEM("EC PRIVATE KEY", "ec", 3, "\n")
	encd := fakePEM("ENCRYPTED PRIVATE KEY", "encd", 10, "\n")
	dsa := fakePEM("DSA PRIVATE KEY", "dsa", 10, "\r\n")
	escaped := fakePEM("PRIVATE KEY", "esc", 8, `\n`)
	cut := rsa[:len(rsa)-len("\n-----END RSA PRIVATE KEY-----")-130]
	return []Rule{{
		ID:            "jwt",
		Class:         ClassJWT,
		Description:   "JSON Web Token whose header names an alg",
		Keywords:      []string{"eyJ"},
		CaseSensitive: true,
		Match:         matchJWT,
		TruePositives: []Sample{
			tp("Authorization: Bearer @@", jwt),
			tp(`{"id_token": "@@"}`, jwt),
			tp("token=@@.", jwt),
		},
		FalsePositives: fp(
			enc+"mb28iOiJiYXIifQ.eyJ4IjoxfQ."+fake("nojwt", csURL, 43), // header has no alg
			enc+"hbGciOiJIUzI1NiJ9",
			"x"+jwt,
			jwt[:len(jwt)-30],
		),
	}, {
		ID:            "private-key",
		Class:         ClassPrivateKey,
		Description:   "PEM private key block (RSA, EC, DSA, OPENSSH, PKCS#8, encrypted, PGP)",
		Keywords:      []string{"-----BEGIN"},
		CaseSensitive: true,
		Match:         matchPEM,
		TruePositives: []Sample{
			tp("key:\n@@\n", rsa), tp(p8, p8), tp("```\n@@\n```", ossh), tp("@@", ec),
			tp("@@", encd), tp("@@\r\n", dsa), tp(`{"private_key": "@@\n"}`, escaped),
			tp("cat id_rsa\n@@\n", cut),
		},
		FalsePositives: fp(
			"-----BEGIN PUBLIC KEY-----\n"+fake("pub", csB64, 64)+"\n-----END PUBLIC KEY-----",
			"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA...\n-----END RSA PRIVATE KEY-----",
			"-----BEGIN CERTIFICATE-----\n"+fake("cert", csB64, 64)+"\n-----END CERTIFICATE-----",
			"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----",
			"-----BEGIN EC PRIVATE KEY-----\n"+fake("mism", csB64, 128)+"\n-----END RSA PRIVATE KEY-----",
		),
	}}
}

func contextRules() []Rule {
	pw := fake("pw", csAlnum, 14) + "!"
	pw2 := fake("pw2", csAlnum, 12)
	tok := fake("tok", csAlnum, 32)
	bearer := fake("bearer", csURL, 40)
	basicRaw := "deploy:" + fake("basic", csAlnum, 16)
	basic := b64std(basicRaw)
	return []Rule{{
		ID:          "uri-password",
		Class:       ClassPassword,
		Description: "password in a scheme://user:password@host URI",
		Keywords:    []string{"://"},
		Generic:     true,
		Match:       matchURIPassword,
		TruePositives: []Sample{
			tp("DATABASE_URL=postgres://app:@@@db.internal:5432/app", pw2),
			tp("postgresql://app:@@@10.0.0.5/app?sslmode=require", pw2),
			tp("mysql://root:@@@mysql:3306/shop", pw2),
			tp(`MONGO_URL="mongodb+srv://svc:@@@cluster0.abcde.mongodb.net/db"`, pw2),
			tp("redis://:@@@cache:6379/0", pw2),
			tp("rediss://default:@@@cache.example.net:6380", pw2),
			tp("amqp://worker:@@@rabbit:5672/", pw2),
			tp("amqps://worker:@@@rabbit:5671/", pw2),
			tp("https://deploy:@@@git.internal/repo.git", pw2),
			tp("http://admin:@@@10.1.2.3:8080/", pw2),
			tp("SQLALCHEMY_DATABASE_URI=postgresql+psycopg2://app:@@@db/app", pw2),
			tp("jdbc:mysql://app:@@@db:3306/x", pw2),
		},
		FalsePositives: fp(
			"postgres://postgres:postgres@localhost:5432/postgres",
			"https://user:pass@host/path",
			"https://user:password@example.com",
			"redis://localhost:6379",
			"https://github.com/org/repo@v1.2.3",
			"postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}/app",
			"amqp://guest:guest@localhost:5672/",
			"mongodb://root:example@mongo:27017/",
			"unknown://user:"+pw2+"@host",
			"postgres://app:<password>@db/app",
			"postgres://app@db/app",
			"mailto:someone@corp.test",
			"postgres://app:$DB_PASS@db/app",
			"mysql://deploy1:deploy1@127.0.0.1:3306/x",
			"mysql://deploy1:deploy1@localhost/x",
		),
	}, {
		ID:          "generic-password",
		Class:       ClassPassword,
		Description: "password assigned to a password-like key (env, YAML, JSON, code, CLI flag)",
		Keywords:    []string{"pass", "pwd"},
		Generic:     true,
		Match:       assignment(kindPassword), keyHits: true,
		TruePositives: []Sample{
			tp("DB_PASSWORD=@@", pw),
			tp(`export DB_PASSWORD="@@"`, pw),
			tp("database:\n  password: @@\n", pw2),
			tp(`{"user": "app", "password": "@@"}`, pw),
			tp(`password = "@@"`, pw),
			tp(`conn = connect(user="app", password='@@')`, pw),
			tp("mysqldump --password @@ shop", pw2),
			tp("psql --password=@@ -h db", pw2),
			tp("spring.datasource.password=@@", pw2),
			tp("db_pass: '@@'", pw),
			tp(`dbPassword := "@@"`, pw),
			tp(`$config['db_pass'] => '@@',`, pw),
			tp(`{\"password\": \"@@\"}`, pw),
			tp("PGPASSWORD=@@ psql", pw2),
			tp(`<property name="x" password="@@"/>`, pw),
		},
		FalsePositives: fp(
			"DB_PASSWORD=changeme",
			"DB_PASSWORD=${DB_PASSWORD}",
			"DB_PASSWORD=$DB_PASSWORD",
			`password: "<your-password>"`,
			"password: {{ .Values.password }}",
			`password = os.getenv("DB_PASSWORD")`,
			`password = os.environ["DB_PASSWORD"]`,
			`if password == "hunter22x":`,
			`password_hash = "`+pw+`"`,
			`"password": {"type": "string", "minLength": 8}`,
			"password: str = None",
			"password = config.password",
			"password = getPassword()",
			"--password $PASS",
			"PWD=/home/user/project",
			"Enter your password below and press return.",
			`bypass = "`+pw+`"`,
			"password: ********",
			"password: xxxxxxxxxx",
			"password: null",
			"password: true",
			"password = 12345678",
			`password: "password"`,
			`password: "secret"`,
			"password: example",
			"password=test",
			"password=dummy",
			"password=none",
			`passwordField.setText("")`,
			"password: !vault |",
			"password: sha512-"+fake("pwsha", csB64, 40),
			"--password-stdin",
		),
	}, {
		ID:          "generic-secret",
		Class:       ClassSecret,
		Description: "secret, token or API key assigned to a secret-like key (env, YAML, JSON, code, CLI flag, header)",
		Keywords: []string{
			"secret", "token", "apikey", "api_key", "api-key", "accesskey", "access_key",
			"access-key", "privatekey", "private_key", "private-key", "auth", "credential",
		},
		Generic: true,
		Match:   assignment(kindSecret), keyHits: true,
		TruePositives: []Sample{
			tp(`export API_TOKEN="@@"`, tok),
			tp(`{"client_id": "abc", "client_secret": "@@"}`, tok),
			tp("const apiKey = '@@';", tok),
			tp("mytool --token=@@ run", tok),
			tp("mytool --api-key @@ run", tok),
			tp("X-Api-Key: @@", tok),
			tp("api_key: @@\n", tok),
			tp("SECRET_KEY = '@@'", tok),
			tp(`"auth": "@@"`, b64std("robot:"+tok)),
			tp("credentials=@@", tok),
		},
		FalsePositives: fp(
			`"max_tokens": 1024`,
			`"usage": {"input_tokens": 12, "output_tokens": 34}`,
			"token_type: bearer",
			"apiKey: process.env.API_KEY",
			`api_key = os.environ["API_KEY"]`,
			`"signature": "EqQBCkYIBhgCIkB`+fake("sig", csB64, 60)+`"`,
			`"nextPageToken": "`+fake("npt", csURL, 40)+`"`,
			`secret_name = "prod-db-credentials"`,
			"SECRET_KEY_BASE=$(openssl rand -hex 64)",
			"token: ${{ secrets.GITHUB_TOKEN }}",
			`"auth": true`,
			`author: "Jane Doe"`,
			"sha: 3f786850e387550fdab836ed7e6dc881de23001b",
			`"tool_use_id": "toolu_01`+fake("toolu", csAlnum, 22)+`"`,
			`"token": "toolu_01`+fake("toolu2", csAlnum, 22)+`"`,
			`"integrity": "sha512-`+fake("integ", csB64, 86)+`=="`,
			`api_key = "your-api-key-here"`,
			`api_key = "your_api_key"`,
			`token = "<your-token>"`,
			"const token = getToken();",
			"token = self.token",
			"access_token: str = None",
			"tokenizer = AutoTokenizer.from_pretrained(name)",
			"The token limit was reached; the secret is to retry.",
			`"cache_read_input_tokens": 2048`,
			"SECRET_KEY=",
			"github.com/foo/bar v1.2.3 h1:"+fake("gosum", csB64, 43)+"=",
			`"auth_token": "call_`+fake("callid", csAlnum, 24)+`"`,
			"secret = ****************",
		),
	}, {
		ID:          "http-bearer-token",
		Class:       ClassSecret,
		Description: "credential after Bearer in an Authorization header",
		Keywords:    []string{"bearer"},
		Generic:     true,
		Match:       matchBearer,
		TruePositives: []Sample{
			tp("Authorization: Bearer @@", bearer),
			tp(`curl -H "authorization: bearer @@" https://api.internal`, bearer),
			tp(`headers = {"Authorization": "Bearer @@"}`, bearer),
		},
		FalsePositives: fp(
			"Authorization: Bearer $TOKEN",
			"Authorization: Bearer <token>",
			"Authorization: Bearer ${API_KEY}",
			"Authorization: Bearer YOUR_ACCESS_TOKEN",
			"Use bearer token authentication for the API.",
			"Authorization: Bearer xxxxxxxxxxxxxxxxxxxxxxxx",
			`f"Bearer {token}"`,
		),
	}, atKeyword(Rule{ // anchored at the header name: one attempt per hit, no window search
		ID:          "http-basic-auth",
		Class:       ClassPassword,
		Description: "base64 user:password after Basic in an Authorization header",
		Keywords:    []string{"authorization"},
		Generic:     true,
		Pattern:     `(?i)authorization["']?\s*[:=]\s*["']?basic\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?:[^A-Za-z0-9+/=]|$)`,
		Before:      1, After: 128,
		Validate: basicAuthOK,
		TruePositives: []Sample{
			tp("Authorization: Basic @@", basic),
			tp(`"Authorization": "Basic @@"`, basic),
		},
		FalsePositives: fp(
			"Authorization: Basic "+b64std("user:password"),
			"Authorization: Basic $CREDS",
			"Authorization: Basic "+b64std("nocolon"),
		),
	}), atKeyword(Rule{
		ID:          "http-token-auth",
		Class:       ClassSecret,
		Description: "credential after the Token scheme in an Authorization header",
		Keywords:    []string{"authorization"},
		Generic:     true,
		Pattern:     `(?i)authorization["']?\s*[:=]\s*["']?token\s+(?P<secret>[A-Za-z0-9._~+/=-]{16,})(?:[^A-Za-z0-9._~+/=-]|$)`,
		Before:      1, After: 128,
		MinEntropy: 3.0,
		TruePositives: []Sample{
			tp(`"Authorization": "token @@"`, fake("tokauth", csHex, 40)),
			tp("curl -H 'Authorization: Token @@' https://api.internal", tok),
		},
		FalsePositives: fp(
			"Authorization: token $GITHUB_TOKEN",
			"Authorization: token <your-token>",
			"Authorization: Token xxxxxxxxxxxxxxxxxxxx",
		),
	}), {
		ID:          "generic-json-password",
		Class:       ClassPassword,
		Description: "whole value of a JSON member whose key names a password",
		Field:       field(kindPassword), onlyStemKeys: true,
		TruePositives: []Sample{
			ftp("password", pw), ftp("db_password", pw2), ftp("DB-PASSWORD", pw), ftp("passwd", pw2),
		},
		FalsePositives: []Sample{
			ffp("password", "changeme"), ffp("password", "true"), ffp("password", ""),
			ffp("username", pw), ffp("password", "${DB_PASSWORD}"), ffp("password", "abc"),
			ffp("password_hint", pw),
		},
	}, {
		ID:          "generic-json-secret",
		Class:       ClassSecret,
		Description: "whole value of a JSON member whose key names a secret, token or API key",
		Field:       field(kindSecret), onlyStemKeys: true,
		TruePositives: []Sample{
			ftp("client_secret", tok), ftp("apiKey", tok), ftp("X-Api-Key", tok),
			ftp("access_token", bearer), ftp("secret", tok),
		},
		FalsePositives: []Sample{
			ffp("max_tokens", "1024"), ffp("token", "https://example.com/token"),
			ffp("secret", "/etc/app/secret"), ffp("auth", "false"), ffp("api_key", "your_api_key"),
			ffp("tool_use_id", "toolu_01"+fake("tuid", csAlnum, 22)), ffp("id", tok),
			ffp("token", "toolu_01"+fake("tuid2", csAlnum, 22)),
			ffp("request_id", "550e8400-e29b-41d4-a716-446655440000"),
			ffp("secretName", "prod-credentials"), ffp("nextPageToken", tok),
			ffp("token", "sha512-"+fake("tsha", csB64, 86)),
		},
	}}
}

func b64std(s string) string { return base64Std.EncodeToString([]byte(s)) }
