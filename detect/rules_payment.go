package detect

// Token classes of the payment and commerce rules.
const (
	ClassShopify     = "shopify"
	ClassSquare      = "square"
	ClassPayPal      = "paypal"
	ClassPlaid       = "plaid"
	ClassCoinbase    = "coinbase"
	ClassFlutterwave = "flutterwave"
)

func paymentMoreRules() []Rule {
	shp := func(id, desc, prefix string, tps func(tok string) []Sample) Rule {
		tok := prefix + fake(id, csHex, 32)
		return sampled(tokenRule(id, ClassShopify, desc, []string{prefix}, prefix+`[a-fA-F0-9]{32}`, tailAlnum, 40, 3.0),
			tps(tok), prefix+"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", tok[:30], "x"+tok)
	}
	eaaa := "EAAA" + fake("square", csURL, 60)
	sq0atp := "sq0atp-" + fake("sq0atp", csURL, 22)
	sq0csp := "sq0csp-" + fake("sq0csp", csURL, 43)
	bt := "access_token$production$" + fake("bt1", "abcdefghijklmnopqrstuvwxyz0123456789", 16) + "$" + fake("bt2", csHex, 32)
	paypal := fake("paypal", csURL, 80)
	plaidTok := "access-production-" + fakeUUID("plaid")
	plaidSecret := fake("plaidsecret", csHex, 30)
	cdp := b64std(fake("cdp", csAlnum, 64))
	flw := "FLWSECK-" + fake("flw", csHex, 32) + "-X"
	return []Rule{
		shp("shopify-access-token", "Shopify Admin API access token (shpat_)", "shpat_", func(tok string) []Sample {
			return []Sample{
				tp("SHOPIFY_ACCESS_TOKEN=@@", tok),
				tp(`curl -H "X-Shopify-Access-Token: @@" https://acme.myshopify.com/admin/api/2025-01/shop.json`, tok),
			}
		}),
		shp("shopify-shared-secret", "Shopify app shared secret (shpss_)", "shpss_", func(tok string) []Sample {
			return []Sample{
				tp("SHOPIFY_API_SECRET=@@", tok),
				tp(`shopify.api_secret = "@@"`, tok),
			}
		}),
		shp("shopify-custom-app-token", "Shopify custom app access token (shpca_)", "shpca_", func(tok string) []Sample {
			return []Sample{
				tp("SHOPIFY_CUSTOM_APP_TOKEN=@@", tok),
				tp(`{"shop": "acme.myshopify.com", "access_token": "@@"}`, tok),
			}
		}),
		shp("shopify-private-app-token", "Shopify private app password (shppa_)", "shppa_", func(tok string) []Sample {
			return []Sample{
				tp("SHOPIFY_PASSWORD=@@", tok),
				tp("https://acme-key:@@@acme.myshopify.com/admin/orders.json", tok),
			}
		}),
		sampled(tokenRule("square-access-token", ClassSquare, "Square production access token (EAAA, sq0atp-)",
			[]string{"EAAA", "sq0atp-"}, `EAAA[A-Za-z0-9_-]{60}|sq0atp-[A-Za-z0-9_-]{22}`, tailURL, 70, 4.0),
			[]Sample{
				tp("SQUARE_ACCESS_TOKEN=@@", eaaa),
				tp(`client = Client(access_token="@@", environment="production")`, sq0atp),
			},
			"SQUARE_ACCESS_TOKEN=EAAAxxxxxxxx",
			"EAAA"+fake("square", csURL, 30),
		),
		sampled(tokenRule("square-oauth-secret", ClassSquare, "Square OAuth application secret (sq0csp-)",
			[]string{"sq0csp-"}, `sq0csp-[A-Za-z0-9_-]{43}`, tailURL, 52, 4.0),
			[]Sample{
				tp("SQUARE_APPLICATION_SECRET=@@", sq0csp),
				tp(`square_oauth_secret: "@@"`, sq0csp),
			},
			"sq0csp-xxxxxxxx",
			"sq0csp-"+fake("sq0csp", csURL, 20),
		),
		sampled(tokenRule("braintree-access-token", ClassPayPal, "Braintree (PayPal) gateway access token",
			[]string{"access_token$production$", "access_token$sandbox$"},
			`access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}`, tailAlnum, 90, 3.5),
			[]Sample{
				tp("BRAINTREE_ACCESS_TOKEN=@@", bt),
				tp(`gateway = braintree.BraintreeGateway(access_token="@@")`, bt),
			},
			"access_token$production$<merchant>$<token>",
			"access_token$sandbox$"+fake("bt1", "abcdefghijklmnopqrstuvwxyz", 16)+"$short",
		),
		validated(sampled(keyedRule("paypal-client-secret", ClassPayPal, "PayPal REST client secret next to its key name",
			[]string{"aypal"}, `p?aypal`, `[A-Za-z0-9_-]{80}`, tailURL, 4.5),
			[]Sample{
				tp("PAYPAL_CLIENT_SECRET=@@", paypal),
				tp(`paypal_secret: "@@"`, paypal),
			},
			"PAYPAL_CLIENT_SECRET="+paypal[:40],
			"PAYPAL_CLIENT_ID="+fake("ppid", csURL, 80),
		), mixedCase(80)),
		sampled(tokenRule("plaid-access-token", ClassPlaid, "Plaid item access token",
			[]string{"access-production-", "access-development-", "access-sandbox-"},
			`access-(?:production|development|sandbox)-`+uuidRE, tailAlnum, 64, 3.5),
			[]Sample{
				tp(`{"access_token": "@@", "item_id": "`+fake("plaiditem", csAlnum, 37)+`"}`, plaidTok),
				tp("PLAID_ACCESS_TOKEN=@@", plaidTok),
			},
			"access-sandbox-00000000-0000-0000-0000-000000000000",
			"PLAID_ACCESS_TOKEN=access-production-<token>",
		),
		sampled(keyedRule("plaid-secret", ClassPlaid, "Plaid API secret (30 hex) next to its key name",
			[]string{"laid"}, `p?laid`, `[a-f0-9]{30}`, tailAlnum, 3.0),
			[]Sample{
				tp("PLAID_SECRET=@@", plaidSecret),
				tp(`plaid_secret_key: "@@"`, plaidSecret),
			},
			"PLAID_CLIENT_ID="+fake("plaidcid", csHex, 24),
			"PLAID_SECRET="+plaidSecret[:20],
		),
		validated(sampled(keyedRule("coinbase-cdp-api-secret", ClassCoinbase, "Coinbase Developer Platform (CDP) Ed25519 API key secret next to its key name",
			[]string{"coinbase", "cdp_api", "cdp-api"}, `coinbase|cdp[_.-]?api`, `[A-Za-z0-9+/]{86}==`, tailB64, 4.5),
			[]Sample{
				tp("CDP_API_KEY_SECRET=@@", cdp),
				tp(`coinbase_api_secret: "@@"`, cdp),
			},
			"CDP_API_KEY_ID=organizations/"+fakeUUID("cdporg")+"/apiKeys/"+fakeUUID("cdpkey"),
			"COINBASE_API_SECRET="+cdp[:44],
		), b64Bytes(64)),
		sampled(tokenRule("flutterwave-secret-key", ClassFlutterwave, "Flutterwave secret key",
			[]string{"FLWSECK-", "FLWSECK_TEST-"}, `FLWSECK(?:_TEST)?-[a-fA-F0-9]{32}-X`, tailAlnum, 56, 3.0),
			[]Sample{
				tp("FLW_SECRET_KEY=@@", flw),
				tp(`const flw = new Flutterwave(process.env.FLW_PUBLIC_KEY, "@@")`, flw),
			},
			"FLW_SECRET_KEY=FLWSECK-xxxxxxxx-X",
			"FLWSECK-"+fake("flw", csHex, 20)+"-X",
		),
	}
}
