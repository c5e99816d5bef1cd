package detect

import "strings"

// Token classes of the messaging, e-mail and social rules.
const (
	ClassDiscord    = "discord"
	ClassTelegram   = "telegram"
	ClassMailgun    = "mailgun"
	ClassMailchimp  = "mailchimp"
	ClassPostmark   = "postmark"
	ClassBrevo      = "brevo"
	ClassResend     = "resend"
	ClassMailerSend = "mailersend"
	ClassTeams      = "msteams"
	ClassMeta       = "meta"
	ClassTwitter    = "twitter"
)

// fakeDiscordBotToken returns a fake Discord bot token for the snowflake id.
func fakeDiscordBotToken(id, seed string) string {
	return b64url(id) + "." + fake(seed+"ts", csURL, 6) + "." + fake(seed+"hmac", csURL, 38)
}

// discordCallOK is a quick test, before the pattern runs, of a keyword hit of the
// discord-bot-token rule at client.run( or client.login(: a quoted literal that may
// start a token must follow, as it rarely does (login(ctx, user) is the common case).
func discordCallOK(in []byte, ks, ke int) bool {
	if in[ke-1] != '(' {
		return true // not a call keyword
	}
	i := ke
	for i < len(in) && isBlank(in[i]) {
		i++
	}
	return i+1 < len(in) && (in[i] == '"' || in[i] == '\'') && in[i+1] >= 'M' && in[i+1] <= 'O'
}

// withPrecheck runs ok before a Match rule's body, to skip hits it rules out cheaply.
func withPrecheck(r Rule, ok func(in []byte, ks, ke int) bool) Rule {
	if m := r.Match; m != nil {
		r.Match = func(in []byte, ks, ke int) (int, int, bool) {
			if !ok(in, ks, ke) {
				return 0, 0, false
			}
			return m(in, ks, ke)
		}
	}
	return r
}

func messagingRules() []Rule {
	var rules []Rule
	for _, g := range [][]Rule{chatMoreRules(), mailRules(), socialRules()} {
		rules = append(rules, g...)
	}
	return rules
}

func chatMoreRules() []Rule {
	discord := fakeDiscordBotToken("1"+fake("dcid", "0123456789", 18), "dc")
	hook := fake("dchook1", "0123456789", 19) + "/" + fake("dchook2", csURL, 68)
	tg := fake("tg1", "0123456789", 10) + ":AA" + fake("tg2", csURL, 33)
	xoxeAccess := "xoxe.xoxp-1-" + fake("xoxea", csAlnum, 164)
	xoxeRefresh := "xoxe-1-" + fake("xoxer", csAlnum, 146)
	xoxc := "xoxc-" + fake("xoxc1", "0123456789", 12) + "-" + fake("xoxc2", "0123456789", 12) + "-" + fake("xoxc3", "0123456789", 13) + "-" + fake("xoxc4", csHex, 64)
	xoxs := "xoxs-" + fake("xoxs1", "0123456789", 10) + "-" + fake("xoxs2", "0123456789", 11) + "-" + fake("xoxs3", "0123456789", 12) + "-" + fake("xoxs4", csHex, 64)
	wf := "T" + fake("wf1", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10) + "/A" + fake("wf2", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10) + "/" +
		fake("wf3", "0123456789", 18) + "/" + fake("wf4", csAlnum, 32)
	teams := fakeUUID("teams1") + "@" + fakeUUID("teams2") + "/IncomingWebhook/" + fake("teams3", csHex, 32) + "/" + fakeUUID("teams4")
	return []Rule{
		validated(sampled(withPrecheck(atKeyword(Rule{
			ID: "discord-bot-token", Class: ClassDiscord,
			Description: "Discord bot token next to a Discord key name, after Bot, or passed to client.run/login",
			Keywords:    []string{"discord", "ot_token", "ot-token", "ottoken", "authorization: bot ", `authorization": "bot `, ".run(", "ogin("},
			Pattern: `(?i:discord[\w.-]{0,24}?(?:token|key|secret)[\w.-]{0,12}?["']?\s*(?::=|=>|=|:)\s*["']?|ot[_-]?token["']?\s*(?::=|=>|=|:)\s*["']?|authorization"?:\s*"?bot\s+|(?:\.run|ogin)\(\s*["'])` +
				`(?P<secret>[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38})(?:[^A-Za-z0-9_.-]|$)`,
			Before: 24, After: 128, MinEntropy: 4.0,
		}), discordCallOK),
			[]Sample{
				tp("DISCORD_BOT_TOKEN=@@", discord),
				tp(`client.run("@@")`, discord),
				tp(`curl -H "Authorization: Bot @@" https://discord.com/api/v10/users/@me`, discord),
			},
			"the bot is running on "+b64url("12345")+"."+fake("dcfp", csURL, 6)+"."+fake("dcfp2", csURL, 30),
			"Authorization: Bot "+b64url("3abcdefghijklmnopq")+"."+fake("dcfp3", csURL, 6)+"."+fake("dcfp4", csURL, 30),
			"client.run(main())",
		), discordBotTokenOK),
		sampled(Rule{
			ID: "discord-webhook-url", Class: ClassDiscord,
			Description: "Discord webhook URL (id and token in the path)",
			Keywords:    []string{"/webhooks/"},
			Pattern:     `discord(?:app)?\.com/api/webhooks/(?P<secret>[0-9]{17,20}/[A-Za-z0-9_-]{60,68})(?:[^A-Za-z0-9_-]|$)`,
			Before:      24, After: 96, MinEntropy: 4.0,
		},
			[]Sample{
				tp("DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/@@", hook),
				tp(`requests.post("https://discordapp.com/api/webhooks/@@", json={"content": "deployed"})`, hook),
			},
			"https://discord.com/api/webhooks/{webhook.id}/{webhook.token}",
			"https://discord.com/developers/docs/resources/webhook",
		),
		sampled(Rule{
			ID: "telegram-bot-token", Class: ClassTelegram,
			Description: "Telegram Bot API token",
			Keywords:    []string{":AA"}, CaseSensitive: true,
			Pattern: `(?:^|[^0-9A-Za-z_:-]|bot)(?P<secret>[0-9]{8,10}:AA[A-Za-z0-9_-]{33})(?:[^A-Za-z0-9_-]|$)`,
			Before:  16, After: 40, MinEntropy: 3.5,
		},
			[]Sample{
				tp("TELEGRAM_BOT_TOKEN=@@", tg),
				tp(`curl "https://api.telegram.org/bot@@/sendMessage?chat_id=42&text=done"`, tg),
				tp(`bot = telebot.TeleBot("@@")`, tg),
			},
			"TELEGRAM_BOT_TOKEN=123456789:AAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
			"at 12:AA meeting",
			"1234:AA"+fake("tg2", csURL, 33),
		),
		sampled(tokenRule("slack-config-access-token", ClassSlack, "Slack app configuration access token (xoxe.xoxp-, xoxe.xoxb-)",
			[]string{"xoxe.xoxp-", "xoxe.xoxb-"}, `xoxe\.xox[bp]-[0-9]-[A-Za-z0-9]{163,166}`, tailAlnum, 190, 4.0),
			[]Sample{
				tp("SLACK_CONFIG_TOKEN=@@", xoxeAccess),
				tp("slack manifest validate --token @@", xoxeAccess),
			},
			"xoxe.xoxp-1-xxxx",
			"xoxe.xoxp-1-"+fake("xoxea", csAlnum, 80),
		),
		sampled(tokenRule("slack-config-refresh-token", ClassSlack, "Slack app configuration refresh token (xoxe-)",
			[]string{"xoxe-"}, `xoxe-[0-9]-[A-Za-z0-9]{146}`, tailAlnum, 160, 4.0),
			[]Sample{
				tp("SLACK_CONFIG_REFRESH_TOKEN=@@", xoxeRefresh),
				tp(`{"refresh_token": "@@", "exp": 1735689600}`, xoxeRefresh),
			},
			"xoxe-1-xxxx",
			"xoxe-1-"+fake("xoxer", csAlnum, 60),
		),
		sampled(tokenRule("slack-session-token", ClassSlack, "Slack legacy, session or client token (xoxs-, xoxo-, xoxr-, xoxc-)",
			[]string{"xoxs-", "xoxo-", "xoxr-", "xoxc-"}, `xox[sorc]-[0-9]{1,13}-[0-9]{1,13}-[0-9]{1,13}-[A-Za-z0-9]{20,64}`, tailAlnum, 120, 3.5),
			[]Sample{
				tp("SLACK_TOKEN=@@", xoxc),
				tp(`slack_legacy_token: "@@"`, xoxs),
			},
			"xoxs-your-token",
			"xoxc-1-2-3-short",
		),
		sampled(Rule{
			ID: "slack-workflow-webhook-url", Class: ClassSlack,
			Description: "Slack workflow or trigger webhook URL (the path is the secret)",
			Keywords:    []string{"hooks.slack.com/workflows/", "hooks.slack.com/triggers/"}, CaseSensitive: true,
			Pattern: `hooks\.slack\.com/(?:workflows|triggers)/(?P<secret>[A-Z0-9]{8,12}/(?:[A-Z0-9]{8,14}/)?[0-9]{6,20}/[A-Za-z0-9]{20,48})(?:[^A-Za-z0-9]|$)`,
			Before:  1, After: 128, MinEntropy: 3.5,
		},
			[]Sample{
				tp("SLACK_WORKFLOW_URL=https://hooks.slack.com/workflows/@@", wf),
				tp(`curl -X POST "https://hooks.slack.com/workflows/@@" -d '{"text":"ok"}'`, wf),
			},
			"https://hooks.slack.com/workflows/T00000000/A00000000/000000000000000000/XXXXXXXXXXXXXXXXXXXXXXXX",
			"see https://hooks.slack.com/triggers/ for docs",
		),
		sampled(Rule{
			ID: "msteams-webhook-url", Class: ClassTeams,
			Description: "Microsoft Teams incoming webhook URL (the path is the secret)",
			Keywords:    []string{"/webhookb2/"},
			Pattern: `webhook\.office\.com/webhookb2/(?P<secret>[0-9a-f-]{36}@[0-9a-f-]{36}/IncomingWebhook/[0-9a-f]{32}/[0-9a-f-]{36}(?:/[A-Za-z0-9_-]{20,80})?)` +
				`(?:[^A-Za-z0-9_/-]|$)`,
			Before: 24, After: 256, MinEntropy: 3.5,
		},
			[]Sample{
				tp("TEAMS_WEBHOOK_URL=https://acme.webhook.office.com/webhookb2/@@", teams),
				tp(`Invoke-RestMethod -Uri "https://acme.webhook.office.com/webhookb2/@@" -Method Post -Body $json`, teams),
			},
			"https://acme.webhook.office.com/webhookb2/<id>@<tenant>/IncomingWebhook/<hash>/<owner>",
			"https://acme.webhook.office.com/webhookb2/"+strings.Repeat("0", 8),
		),
	}
}

func mailRules() []Rule {
	mgKey := "key-" + fake("mailgun", csHex, 32)
	mgNew := fake("mgnew1", csHex, 32) + "-" + fake("mgnew2", csHex, 8) + "-" + fake("mgnew3", csHex, 8)
	mc := fake("mailchimp", csHex, 32) + "-us21"
	pm := fakeUUID("postmark")
	brevo := "xkeysib-" + fake("brevo1", csHex, 64) + "-" + fake("brevo2", csAlnum, 16)
	resend := "re_" + fake("resend1", csAlnum, 8) + "_" + fake("resend2", csAlnum, 24)
	mlsn := "mlsn." + fake("mlsn", csHex, 64)
	return []Rule{
		sampled(tokenRule("mailgun-private-key", ClassMailgun, "Mailgun private API key (key-)",
			[]string{"k|ey-"}, `key-[a-f0-9]{32}`, tailAlnum, 40, 3.0),
			[]Sample{
				tp("MAILGUN_API_KEY=@@", mgKey),
				tp("curl -s --user 'api:@@' https://api.mailgun.net/v3/acme.test/messages", mgKey),
			},
			"a key-value store and a primary key-"+strings.Repeat("0", 32),
			"MAILGUN_API_KEY="+mgKey[:24],
		),
		sampled(keyedRule("mailgun-api-key", ClassMailgun, "Mailgun API key (hex-hex-hex) next to its key name",
			[]string{"mailgun"}, `mailgun`, `[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8}`, `A-Za-z0-9-`, 3.0),
			[]Sample{
				tp("MAILGUN_API_KEY=@@", mgNew),
				tp(`mailgun_webhook_signing_key: "@@"`, mgNew),
			},
			"MAILGUN_DOMAIN=mg.acme.test",
			"MAILGUN_API_KEY="+mgNew[:32],
		),
		sampled(Rule{
			ID: "mailchimp-api-key", Class: ClassMailchimp,
			Description: "Mailchimp Marketing API key (32 hex and a -us data center)",
			Keywords:    []string{"-us"}, CaseSensitive: true,
			Pattern: `(?:^|[^A-Za-z0-9])(?P<secret>[0-9a-f]{32}-us[0-9]{1,2})(?:[^A-Za-z0-9]|$)`,
			Before:  34, After: 4, MinEntropy: 3.0,
		},
			[]Sample{
				tp("MAILCHIMP_API_KEY=@@", mc),
				tp(`mailchimp.setConfig({ apiKey: "@@", server: "us21" })`, mc),
			},
			"Accept-Language: en-us",
			strings.Repeat("0", 32)+"-us21",
			"x"+mc,
		),
		sampled(keyedRule("postmark-server-token", ClassPostmark, "Postmark server or account token (UUID) next to its key name or header",
			[]string{"stmark"}, `(?:po)?stmark`, uuidRE, `A-Za-z0-9-`, 3.0),
			[]Sample{
				tp("POSTMARK_SERVER_TOKEN=@@", pm),
				tp(`curl -H "X-Postmark-Server-Token: @@" https://api.postmarkapp.com/email`, pm),
			},
			"POSTMARK_MESSAGE_STREAM=outbound",
			"X-Postmark-Server-Token: 00000000-0000-0000-0000-000000000000",
		),
		sampled(tokenRule("brevo-api-key", ClassBrevo, "Brevo (Sendinblue) API or SMTP key",
			[]string{"xkeysib-", "xsmtpsib-"}, `x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}`, tailAlnum, 100, 3.5),
			[]Sample{
				tp("BREVO_API_KEY=@@", brevo),
				tp(`curl -H "api-key: @@" https://api.brevo.com/v3/account`, brevo),
			},
			"BREVO_API_KEY=xkeysib-xxxxxxxx",
			"xkeysib-"+fake("brevo1", csHex, 64)+"-short",
		),
		validated(sampled(shapeRule("resend-api-key", ClassResend, "Resend API key (re_)",
			[]string{"re_"}, isAlnum, 4.0, segRun(isAlnum, 8, 8), segLit("_"), segRun(isAlnum, 24, 24)),
			[]Sample{
				tp("RESEND_API_KEY=@@", resend),
				tp(`const resend = new Resend("@@");`, resend),
			},
			"re_compile = re_pattern_matcher_function_name_here",
			"re_12345678_abcdefghijklmnopqrstuvwx",
			"score_"+resend,
		), mixedCase(24)),
		sampled(tokenRule("mailersend-api-token", ClassMailerSend, "MailerSend API token (mlsn.)",
			[]string{"mlsn."}, `mlsn\.[a-f0-9]{64}`, tailAlnum, 72, 3.0),
			[]Sample{
				tp("MAILERSEND_API_KEY=@@", mlsn),
				tp(`const mailerSend = new MailerSend({ apiKey: "@@" });`, mlsn),
			},
			"MAILERSEND_API_KEY=mlsn.xxxxxxxx",
			"mlsn."+fake("mlsn", csHex, 40),
		),
	}
}

func socialRules() []Rule {
	fb := "EAAG" + fake("fb", csAlnum, 180)
	tw := strings.Repeat("A", 22) + fake("tw1", csAlnum, 20) + "%2B" + fake("tw2", csAlnum, 40) + "%3D" + fake("tw3", csAlnum, 30)
	return []Rule{
		validated(sampled(tokenRule("facebook-access-token", ClassMeta, "Facebook (Meta Graph API) user, page or system user access token (EAA)",
			[]string{"EAA"}, `EAA[A-Za-z0-9]{90,}`, tailAlnum, 1024, 4.5),
			[]Sample{
				tp("FACEBOOK_ACCESS_TOKEN=@@", fb),
				tp(`curl "https://graph.facebook.com/v21.0/me?access_token=@@"`, fb),
				tp(`WHATSAPP_TOKEN: "@@"`, fb),
			},
			"EAAxxxxxxxx",
			"EAA"+fake("fb", csAlnum, 60),
			"EAA"+strings.Repeat("ab", 60),
		), mixedCase(90)),
		sampled(atKeyword(Rule{
			ID: "twitter-bearer-token", Class: ClassTwitter,
			Description: "X (Twitter) app-only bearer token next to an X or Twitter key name",
			Keywords:    []string{"twitter", "x_bearer", "x-bearer"},
			Pattern: `(?i:(?:twitter|x[_-]bearer)[\w.-]{0,24}?(?:token|key|secret|bearer)?[\w.-]{0,12}?["']?\s*(?::=|=>|=|:)\s*["']?)` +
				`(?P<secret>A{20,24}[A-Za-z0-9%]{60,140})(?:[^A-Za-z0-9%]|$)`,
			Before: 1, After: 200, MinEntropy: 3.5,
		}),
			[]Sample{
				tp("TWITTER_BEARER_TOKEN=@@", tw),
				tp(`X_BEARER_TOKEN: "@@"`, tw),
			},
			"TWITTER_BEARER_TOKEN="+strings.Repeat("A", 100),
			"twitter_handle: acme",
		),
	}
}
