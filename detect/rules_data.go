package detect

// Token classes of the database and data platform rules.
const (
	ClassPlanetScale = "planetscale"
	ClassSupabase    = "supabase"
	ClassMongoDB     = "mongodb"
	ClassDatabricks  = "databricks"
	ClassClickHouse  = "clickhouse"
	ClassInfluxDB    = "influxdb"
)

func dataRules() []Rule {
	pstkn := "pscale_tkn_" + fake("pstkn", csURL, 43)
	pspw := "pscale_pw_" + fake("pspw", csURL, 43)
	psoauth := "pscale_oauth_" + fake("psoauth", csURL, 43)
	sbp := "sbp_" + fake("sbp", csHex, 40)
	sbSecret := "sb_secret_" + fake("sbsecret1", csURL, 22) + "_" + fake("sbsecret2", csURL, 8)
	mdb := "mdb_sa_sk_" + fake("mdbsa", csAlnum, 40)
	atlas := fakeUUID("atlaspriv")
	dapi := "dapi" + fake("dapi", csHex, 32)
	ch := "4b1d" + fake("ch", csAlnum, 38)
	influx := fake("influx", csURL, 86) + "=="
	ps := func(id, desc, prefix, tok string, tps []Sample) Rule {
		return sampled(tokenRule(id, ClassPlanetScale, desc, []string{prefix}, prefix+`[A-Za-z0-9_=.-]{32,64}`, `A-Za-z0-9_.=-`, 80, 4.0),
			tps, prefix+"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", tok[:len(prefix)+20])
	}
	return []Rule{
		ps("planetscale-token", "PlanetScale service token", "pscale_tkn_", pstkn, []Sample{
			tp("PLANETSCALE_SERVICE_TOKEN=@@", pstkn),
			tp("pscale connect acme main --service-token @@ --service-token-id abc123", pstkn),
		}),
		ps("planetscale-password", "PlanetScale database password", "pscale_pw_", pspw, []Sample{
			tp("DATABASE_URL=mysql://acme_app:@@@aws.connect.psdb.cloud/acme?sslaccept=strict", pspw),
			tp(`{"username": "acme_app", "password": "@@"}`, pspw),
		}),
		ps("planetscale-oauth-token", "PlanetScale OAuth token", "pscale_oauth_", psoauth, []Sample{
			tp(`{"access_token": "@@"}`, psoauth),
			tp("PLANETSCALE_OAUTH_TOKEN=@@", psoauth),
		}),
		sampled(tokenRule("supabase-access-token", ClassSupabase, "Supabase personal access token (sbp_)",
			[]string{"sbp_"}, `sbp_[a-f0-9]{40}`, tailAlnum, 48, 3.0),
			[]Sample{
				tp("SUPABASE_ACCESS_TOKEN=@@", sbp),
				tp("supabase login --token @@", sbp),
			},
			"SUPABASE_ACCESS_TOKEN=sbp_xxxxxxxx",
			"sbp_"+fake("sbp", csHex, 24),
		),
		sampled(tokenRule("supabase-secret-key", ClassSupabase, "Supabase secret API key (sb_secret_)",
			[]string{"sb_secret_"}, `sb_secret_[A-Za-z0-9_-]{28,64}`, tailURL, 80, 4.0),
			[]Sample{
				tp("SUPABASE_SECRET_KEY=@@", sbSecret),
				tp(`const supabase = createClient(url, "@@")`, sbSecret),
			},
			"SUPABASE_SECRET_KEY=sb_secret_...",
			"sb_secret_abc",
		),
		sampled(tokenRule("mongodb-atlas-service-account-secret", ClassMongoDB, "MongoDB Atlas service account client secret (mdb_sa_sk_)",
			[]string{"mdb_sa_sk_"}, `mdb_sa_sk_[A-Za-z0-9_]{40,48}`, tailURL, 64, 4.0),
			[]Sample{
				tp("MDB_MCP_API_CLIENT_SECRET=@@", mdb),
				tp(`atlas_client_secret = "@@"`, mdb),
			},
			"ATLAS_CLIENT_SECRET=mdb_sa_sk_...",
			"mdb_sa_sk_"+fake("mdbsa", csAlnum, 20),
		),
		sampled(keyedRule("mongodb-atlas-private-key", ClassMongoDB, "MongoDB Atlas programmatic API private key (UUID) next to its key name",
			[]string{"mongodb_atlas", "mongodb-atlas", "atlas_private", "atlas-private"}, `mongodb[_.-]?atlas|atlas[_.-]?private`, uuidRE, `A-Za-z0-9-`, 3.0),
			[]Sample{
				tp("MONGODB_ATLAS_PRIVATE_KEY=@@", atlas),
				tp(`atlas_private_key: "@@"`, atlas),
			},
			"MONGODB_ATLAS_PROJECT_ID="+fake("atlasproj", csHex, 24),
			"MONGODB_ATLAS_PRIVATE_KEY=00000000-0000-0000-0000-000000000000",
		),
		sampled(tokenRule("databricks-token", ClassDatabricks, "Databricks personal access token (dapi)",
			[]string{"dapi"}, `dapi[a-f0-9]{32}(?:-[0-9])?`, tailAlnum, 40, 3.0),
			[]Sample{
				tp("DATABRICKS_TOKEN=@@", dapi),
				tp("[DEFAULT]\nhost = https://acme.cloud.databricks.com\ntoken = @@\n", dapi),
			},
			"DATABRICKS_TOKEN=dapixxxxxxxx",
			"dapi"+fake("dapi", csHex, 20),
			"dapi"+fake("dapi", csHex, 32)+"x",
		),
		validated(sampled(tokenRule("clickhouse-cloud-key", ClassClickHouse, "ClickHouse Cloud API secret key (4b1d)",
			[]string{"4b1d"}, `4b1d[A-Za-z0-9]{38}`, tailAlnum, 48, 4.0),
			[]Sample{
				tp("CLICKHOUSE_KEY_SECRET=@@", ch),
				tp(`curl --user "$KEY_ID:@@" https://api.clickhouse.cloud/v1/organizations`, ch),
			},
			"4b1d"+fake("ch", csHex, 38),
			"4b1d"+fake("ch", csAlnum, 20),
		), mixedCase(38)),
		sampled(keyedRule("influxdb-token", ClassInfluxDB, "InfluxDB API token next to its key name",
			[]string{"nflux"}, `i?nflux(?:db)?`, `[A-Za-z0-9_-]{86}==`, tailB64URL, 4.5),
			[]Sample{
				tp("INFLUXDB_TOKEN=@@", influx),
				tp(`influx_token = "@@"`, influx),
			},
			"INFLUXDB_ORG=acme",
			"INFLUXDB_TOKEN="+influx[:40],
		),
	}
}
