package detect

import "strings"

// Token classes of the CI, developer tool and package registry rules.
const (
	ClassAtlassian   = "atlassian"
	ClassCircleCI    = "circleci"
	ClassTravis      = "travis"
	ClassBuildkite   = "buildkite"
	ClassJenkins     = "jenkins"
	ClassHashiCorp   = "hashicorp"
	ClassDoppler     = "doppler"
	ClassPulumi      = "pulumi"
	ClassPyPI        = "pypi"
	ClassRubyGems    = "rubygems"
	ClassNuGet       = "nuget"
	ClassCrates      = "crates"
	ClassDocker      = "docker"
	ClassJFrog       = "jfrog"
	ClassSonar       = "sonar"
	ClassSourcegraph = "sourcegraph"
	ClassSnyk        = "snyk"
	ClassPostman     = "postman"
	ClassOnePassword = "onepassword"
)

func ciRules() []Rule {
	var rules []Rule
	for _, g := range [][]Rule{gitlabMoreRules(), atlassianRules(), ciServiceRules(), infraToolRules(), registryRules(), devToolRules()} {
		rules = append(rules, g...)
	}
	return rules
}

func gitlabMoreRules() []Rule {
	rrt := "GR1348941" + fake("glrrt", csURL, 20)
	ffct := "glffct-" + fake("glffct", csURL, 20)
	sess := fake("glsess", csHex, 32)
	return []Rule{
		sampled(tokenRule("gitlab-runner-registration-token", ClassGitLab, "GitLab runner registration token (GR1348941, deprecated flow)",
			[]string{"GR1348941"}, `GR1348941[A-Za-z0-9_-]{20}`, tailURL, 30, 3.5),
			[]Sample{
				tp("gitlab-runner register --url https://gitlab.com/ --registration-token @@ --executor docker", rrt),
				tp(`runnerRegistrationToken: "@@"`, rrt),
			},
			"GR1348941xxxxxxxxxxxxxxxxxxxx",
			"GR1348941"+fake("glrrt", csURL, 10),
		),
		sampled(tokenRule("gitlab-feature-flag-token", ClassGitLab, "GitLab feature flags client token",
			[]string{"glffct-"}, `glffct-[A-Za-z0-9_-]{20}`, tailURL, 30, 3.5),
			[]Sample{
				tp("UNLEASH_INSTANCE_ID=@@", ffct),
				tp(`unleash.initialize({url: "https://gitlab.com/api/v4/feature_flags/unleash/42", instanceId: "@@"})`, ffct),
			},
			"glffct-your-instance-id",
			"glffct-"+fake("glffct", csURL, 12),
		),
		sampled(Rule{
			ID: "gitlab-session-cookie", Class: ClassGitLab,
			Description: "GitLab session cookie",
			Keywords:    []string{"_gitlab_session="}, CaseSensitive: true, Anchored: true,
			Pattern: `_gitlab_session=(?P<secret>[0-9a-f]{32})(?:[^A-Za-z0-9]|$)`, After: 40,
			MinEntropy: 3.0,
		},
			[]Sample{
				tp("Cookie: _gitlab_session=@@; known_sign_in=abc", sess),
				tp(`curl -b "_gitlab_session=@@" https://gitlab.acme.test/api/v4/user`, sess),
			},
			"Cookie: _gitlab_session=<session>",
			"_gitlab_session="+strings.Repeat("0", 32),
		),
	}
}

func atlassianRules() []Rule {
	atbb := "ATBB" + fake("atbb", csAlnum, 32)
	atatt := "ATATT3xFfGF0" + fake("atatt", csURL, 180)
	atctt := "ATCTT3xFfGN0" + fake("atctt", csURL, 180)
	jira := fake("jira", csAlnum, 24)
	return []Rule{
		validated(sampled(tokenRule("bitbucket-app-password", ClassAtlassian, "Bitbucket app password (ATBB)",
			[]string{"ATBB"}, `ATBB[A-Za-z0-9]{32}`, tailAlnum, 40, 3.5),
			[]Sample{
				tp("BITBUCKET_APP_PASSWORD=@@", atbb),
				tp("git clone https://dev-acme:@@@bitbucket.org/acme/api.git", atbb),
			},
			"BITBUCKET_APP_PASSWORD=ATBBxxxxxxxx",
			"ATBB"+fake("atbb", csAlnum, 20),
		), mixedCase(32)),
		sampled(tokenRule("atlassian-api-token", ClassAtlassian, "Atlassian (Jira, Confluence) API token (ATATT3)",
			[]string{"ATA|TT3"}, `ATATT3[A-Za-z0-9_=-]{186}`, tailURLEq, 200, 4.0),
			[]Sample{
				tp("JIRA_API_TOKEN=@@", atatt),
				tp(`curl -u ops@acme.test:@@ https://acme.atlassian.net/rest/api/3/myself`, atatt),
				tp("confluence:\n  token: \"@@\"", atatt),
			},
			"JIRA_API_TOKEN=ATATT3xFfGF0...",
			atatt[:120],
		),
		sampled(tokenRule("bitbucket-access-token", ClassAtlassian, "Bitbucket repository, project or workspace access token (ATCTT3)",
			[]string{"ATC|TT3"}, `ATCTT3[A-Za-z0-9_=-]{150,220}`, tailURLEq, 230, 4.0),
			[]Sample{
				tp("BITBUCKET_ACCESS_TOKEN=@@", atctt),
				tp("Authorization: Bearer @@", atctt),
			},
			"BITBUCKET_ACCESS_TOKEN=ATCTT3...",
			atctt[:100],
		),
		validated(sampled(keyedRule("atlassian-api-token-legacy", ClassAtlassian, "Atlassian API token (24 characters) next to a Jira, Confluence or Atlassian key name",
			[]string{"atlassian", "jira", "fluence"}, `atlassian|jira|(?:con)?fluence`, `[A-Za-z0-9]{24}`, tailAlnum, 3.5),
			[]Sample{
				tp("JIRA_API_TOKEN=@@", jira),
				tp(`confluence_api_token: "@@"`, jira),
			},
			"JIRA_API_TOKEN="+jira[:16],
			"jira_project_key: "+strings.Repeat("ABC", 8),
		), mixedCase(24)),
	}
}

func ciServiceRules() []Rule {
	ccipat := "CCIPAT_" + fake("ccipat1", csAlnum, 22) + "_" + fake("ccipat2", csHex, 40)
	cciprj := "CCIPRJ_" + fake("cciprj1", csAlnum, 22) + "_" + fake("cciprj2", csHex, 40)
	travis := fake("travis", csAlnum, 22)
	bkua := "bkua_" + fake("bkua", csHex, 40)
	jenkins := "11" + fake("jenkins", csHex, 32)
	cci := func(id, desc, prefix, tok string, tps []Sample) Rule {
		return sampled(tokenRule(id, ClassCircleCI, desc, []string{prefix}, prefix+`[A-Za-z0-9]{22}_[a-f0-9]{40}`, tailAlnum, 72, 3.5),
			tps, prefix+"your_token_here", tok[:40], "x"+tok)
	}
	return []Rule{
		cci("circleci-personal-token", "CircleCI personal API token", "CCIPAT_", ccipat, []Sample{
			tp("CIRCLECI_TOKEN=@@", ccipat),
			tp(`curl -H "Circle-Token: @@" https://circleci.com/api/v2/me`, ccipat),
			tp("token: @@\nhost: https://circleci.com\n", ccipat),
		}),
		cci("circleci-project-token", "CircleCI project API token", "CCIPRJ_", cciprj, []Sample{
			tp("CIRCLE_PROJECT_TOKEN=@@", cciprj),
			tp(`curl -u @@: https://circleci.com/api/v2/project/gh/acme/api/pipeline`, cciprj),
		}),
		validated(sampled(keyedRule("travis-ci-token", ClassTravis, "Travis CI API token next to its key name",
			[]string{"travis"}, `travis`, `[A-Za-z0-9_-]{22}`, tailURL, 3.5),
			[]Sample{
				tp("TRAVIS_TOKEN=@@", travis),
				tp(`travis_api_token: "@@"`, travis),
			},
			"TRAVIS_TOKEN="+travis[:12],
			"travis_build_token_name: "+strings.Repeat("ab", 11),
		), mixedCase(22)),
		sampled(tokenRule("buildkite-api-token", ClassBuildkite, "Buildkite user API access token",
			[]string{"bkua_"}, `bkua_[a-f0-9]{40}`, tailAlnum, 48, 3.0),
			[]Sample{
				tp("BUILDKITE_API_TOKEN=@@", bkua),
				tp("bk configure --org acme --token @@", bkua),
			},
			"BUILDKITE_TOKEN=bkua_xxx",
			"bkua_"+fake("bkua", csHex, 20),
		),
		validated(sampled(keyedRule("jenkins-api-token", ClassJenkins, "Jenkins API token next to its key name",
			[]string{"jenkins"}, `jenkins`, `(?:11)?[0-9a-f]{32}`, tailAlnum, 3.0),
			[]Sample{
				tp("JENKINS_API_TOKEN=@@", jenkins),
				tp(`jenkins_token: "@@"`, jenkins),
				tp("JENKINS_PASSWORD=@@", jenkins),
			},
			"JENKINS_API_TOKEN="+jenkins[:20],
			"jenkins_build_number: 1234567890123456789012345678901234",
		), hasDigitAndLetter),
	}
}

func infraToolRules() []Rule {
	tfc := fake("tfc1", csAlnum, 14) + ".atlasv1." + fake("tfc2", csURL, 67)
	hvs := "hvs.CAESI" + fake("hvs", csURL, 90)
	hvb := "hvb.AAAAAQ" + fake("hvb", csURL, 150)
	dppt := "dp.pt." + fake("dppt", csAlnum, 43)
	dpst := "dp.st.prd." + fake("dpst", csAlnum, 43)
	pul := "pul-" + fake("pul", csHex, 40)
	return []Rule{
		sampled(Rule{
			ID: "terraform-cloud-token", Class: ClassHashiCorp,
			Description: "HCP Terraform (Terraform Cloud, Enterprise) user, team or organization API token",
			Keywords:    []string{".atlasv1."}, CaseSensitive: true,
			Pattern: `(?:^|[^A-Za-z0-9])(?P<secret>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70})(?:[^A-Za-z0-9_=-]|$)`,
			Before:  16, After: 80, MinEntropy: 4.0,
		},
			[]Sample{
				tp(`{"credentials": {"app.terraform.io": {"token": "@@"}}}`, tfc),
				tp("TF_TOKEN_app_terraform_io=@@", tfc),
				tp("credentials \"app.terraform.io\" {\n  token = \"@@\"\n}", tfc),
			},
			"token = \"xxxxxxxxxxxxxx.atlasv1.xxxxxxxx\"",
			fake("tfc1", csAlnum, 14)+".atlasv1."+fake("tfc2", csURL, 30),
		),
		sampled(tokenRule("vault-service-token", ClassHashiCorp, "HashiCorp Vault service token (hvs.)",
			[]string{"hvs."}, `hvs\.[A-Za-z0-9_-]{90,120}`, tailURL, 130, 4.0),
			[]Sample{
				tp("VAULT_TOKEN=@@", hvs),
				tp("vault login @@", hvs),
				tp(`curl -H "X-Vault-Token: @@" https://vault.acme.test/v1/secret/data/app`, hvs),
			},
			"VAULT_TOKEN=hvs.your-token",
			"hvs."+fake("hvs", csURL, 40),
		),
		sampled(tokenRule("vault-batch-token", ClassHashiCorp, "HashiCorp Vault batch token (hvb.)",
			[]string{"hvb."}, `hvb\.[A-Za-z0-9_-]{138,300}`, tailURL, 310, 4.0),
			[]Sample{
				tp("VAULT_TOKEN=@@", hvb),
				tp(`{"auth": {"client_token": "@@", "renewable": false}}`, hvb),
			},
			"hvb."+fake("hvb", csURL, 60),
			"VAULT_TOKEN=hvb.xxxxxxxxxxxxxxxx",
		),
		sampled(tokenRule("doppler-token", ClassDoppler, "Doppler personal, CLI, service, service account, SCIM or audit token",
			[]string{"dp.pt.", "dp.ct.", "dp.st.", "dp.sa.", "dp.scim.", "dp.audit."},
			`dp\.(?:pt|ct|sa|scim|audit)\.[A-Za-z0-9]{40,44}|dp\.st\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44}`, tailAlnum, 90, 4.0),
			[]Sample{
				tp("DOPPLER_TOKEN=@@", dppt),
				tp("doppler run --token @@ -- npm start", dpst),
				tp(`doppler_token: "@@"`, dpst),
			},
			"DOPPLER_TOKEN=dp.st.xxxx",
			"dp.pt."+fake("dppt", csAlnum, 20),
		),
		sampled(tokenRule("pulumi-access-token", ClassPulumi, "Pulumi access token",
			[]string{"pul-"}, `pul-[a-f0-9]{40}`, tailAlnum, 48, 3.0),
			[]Sample{
				tp("PULUMI_ACCESS_TOKEN=@@", pul),
				tp("pulumi login --token @@", pul),
			},
			"PULUMI_ACCESS_TOKEN=pul-xxxxxxxx",
			"pul-"+fake("pul", csHex, 30),
			"git pull-request",
		),
	}
}

func registryRules() []Rule {
	legacyNPM := fakeUUID("npmlegacy")
	private := fake("npmpriv", csURL, 48)
	auth := b64std("ci-bot:" + fake("npmauth", csAlnum, 20))
	npmPass := b64std(fake("npmpass", csAlnum, 18))
	pypi := "pypi-AgEIcHlwaS5vcmcCJ" + fake("pypi", csURL, 160)
	testpypi := "pypi-AgENdGVzdC5weXBpLm9yZwIk" + fake("testpypi", csURL, 150)
	gems := "rubygems_" + fake("gems", csHex, 48)
	nuget := "oy2" + fake("nuget", "abcdefghijklmnopqrstuvwxyz0123456789", 43)
	cio := "cio" + fake("cio", csAlnum, 32)
	dckr := "dckr_pat_" + fake("dckr", csURL, 27)
	dckrOat := "dckr_oat_" + fake("dckroat", csURL, 32)
	dockerAuth := b64std("robot$ci:" + fake("dockerauth", csAlnum, 24))
	akcp := "AKCp" + fake("akcp", csAlnum, 69)
	reftkn := ("cmVmdGtuOjAx" + b64std(":"+fake("reftkn2", "0123456789", 10)+":"+fake("reftkn3", csAlnum, 30)))[:64]
	sqp := "sqp_" + fake("sqp", csHex, 40)
	squ := "squ_" + fake("squ", csHex, 40)
	return []Rule{
		sampled(Rule{
			ID: "npmrc-auth-token", Class: ClassNPM,
			Description: "registry token in an .npmrc _authToken or .yarnrc.yml npmAuthToken",
			Keywords:    []string{"_authToken", "npmAuthToken"}, CaseSensitive: true, Anchored: true,
			Pattern: `(?:_authToken\s*=|npmAuthToken["']?\s*:)\s*["']?(?P<secret>[A-Za-z0-9._~+/=:-]{16,512})(?:[^A-Za-z0-9._~+/=:-]|$)`,
			After:   560, MinEntropy: 3.0,
		},
			[]Sample{
				tp("//registry.npmjs.org/:_authToken=@@\n", legacyNPM),
				tp("@acme:registry=https://npm.acme.test/\n//npm.acme.test/:_authToken=@@\n", private),
				tp("npmScopes:\n  acme:\n    npmAuthToken: \"@@\"\n", private),
			},
			"//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
			"//registry.npmjs.org/:_authToken=",
			`npmAuthToken: "${NPM_AUTH_TOKEN}"`,
		),
		validated(sampled(Rule{
			ID: "npmrc-basic-auth", Class: ClassNPM,
			Description: "base64 user:password in an .npmrc _auth",
			Keywords:    []string{"_auth"}, CaseSensitive: true, Anchored: true,
			Pattern: `_auth\s*=\s*["']?(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?:[^A-Za-z0-9+/=]|$)`,
			After:   600,
		},
			[]Sample{
				tp("registry=https://nexus.acme.test/repository/npm/\n_auth=@@\nalways-auth=true\n", auth),
				tp("//nexus.acme.test/repository/npm/:_auth = \"@@\"\n", auth),
			},
			"_auth=${NPM_AUTH}",
			"_auth="+b64std("no-colon-here"),
			"oauth_auth=dXNlcjpwYXNzd29yZA==",
		), basicAuthOK),
		validated(sampled(Rule{
			ID: "npmrc-password", Class: ClassNPM,
			Description: "base64 password in an .npmrc _password",
			Keywords:    []string{"_password"}, CaseSensitive: true, Anchored: true,
			Pattern: `_password\s*=\s*["']?(?P<secret>[A-Za-z0-9+/]{8,}={0,2})(?:[^A-Za-z0-9+/=]|$)`,
			After:   600,
		},
			[]Sample{
				tp("//npm.pkg.acme.test/:username=ci\n//npm.pkg.acme.test/:_password=@@\n", npmPass),
				tp("_password=\"@@\"\nemail=ci@acme.test\n", npmPass),
			},
			"_password=${NPM_PASSWORD}",
			"//npm.acme.test/:_password="+b64std("changeme"),
		), printableB64OK),
		sampled(tokenRule("pypi-upload-token", ClassPyPI, "PyPI or TestPyPI API token",
			[]string{"pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw"},
			`pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}`, tailURL, 1024, 4.0),
			[]Sample{
				tp("[pypi]\n  username = __token__\n  password = @@\n", pypi),
				tp("TWINE_PASSWORD=@@", pypi),
				tp("uv publish --token @@", testpypi),
			},
			"TWINE_PASSWORD=pypi-AgEIcHlwaS5vcmc...",
			"pypi-AgEIcHlwaS5vcmc"+fake("pypi", csURL, 30),
		),
		sampled(tokenRule("rubygems-api-key", ClassRubyGems, "RubyGems API key",
			[]string{"rubygems_"}, `rubygems_[a-f0-9]{48}`, tailAlnum, 60, 3.0),
			[]Sample{
				tp("GEM_HOST_API_KEY=@@", gems),
				tp("---\n:rubygems_api_key: @@\n", gems),
			},
			"GEM_HOST_API_KEY=rubygems_xxxxxxxx",
			"rubygems_"+fake("gems", csHex, 30),
		),
		validated(sampled(tokenRule("nuget-api-key", ClassNuGet, "NuGet.org API key",
			[]string{"oy2"}, `oy2[a-z0-9]{43}`, tailAlnum, 50, 3.5),
			[]Sample{
				tp("dotnet nuget push Acme.Core.1.2.0.nupkg --api-key @@ --source https://api.nuget.org/v3/index.json", nuget),
				tp("NUGET_API_KEY=@@", nuget),
			},
			"NUGET_API_KEY=oy2xxxxxxxx",
			"oy2"+strings.Repeat("a", 43),
		), hasDigitAndLetter),
		validated(sampled(tokenRule("crates-io-token", ClassCrates, "crates.io API token",
			[]string{"cio"}, `cio[A-Za-z0-9]{32}`, tailAlnum, 40, 3.5),
			[]Sample{
				tp("CARGO_REGISTRY_TOKEN=@@", cio),
				tp("[registry]\ntoken = \"@@\"\n", cio),
			},
			"the precious and delicious conscious ciao",
			"cio"+fake("cio", csAlnum, 20),
			"x"+cio,
		), mixedCase(32)),
		sampled(tokenRule("docker-hub-token", ClassDocker, "Docker Hub personal or organization access token",
			[]string{"dckr_pat_", "dckr_oat_"}, `dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,40}`, tailURL, 52, 3.5),
			[]Sample{
				tp("echo @@ | docker login -u acmeci --password-stdin", dckr),
				tp("DOCKERHUB_TOKEN=@@", dckr),
				tp(`docker_hub_token: "@@"`, dckrOat),
			},
			"DOCKERHUB_TOKEN=dckr_pat_xxxxxxxx",
			"dckr_pat_"+fake("dckr", csURL, 10),
		),
		validated(sampled(Rule{
			ID: "docker-config-auth", Class: ClassDocker,
			Description: "base64 user:password of a registry in a Docker or Podman config.json auths",
			Keywords:    []string{`"auths"`}, CaseSensitive: true, Anchored: true,
			Pattern: `"auths"\s*:\s*\{\s*"[^"\n]{1,256}"\s*:\s*\{[^{}]{0,512}?"auth"\s*:\s*"(?P<secret>[A-Za-z0-9+/]{8,}={0,2})"`,
			After:   1024,
		},
			[]Sample{
				tp(`{"auths": {"https://index.docker.io/v1/": {"auth": "@@"}}}`, dockerAuth),
				tp("{\n\t\"auths\": {\n\t\t\"registry.acme.test\": {\n\t\t\t\"email\": \"ci@acme.test\",\n\t\t\t\"auth\": \"@@\"\n\t\t}\n\t}\n}", dockerAuth),
			},
			`{"auths": {"ghcr.io": {}}, "credsStore": "desktop"}`,
			`{"auths": {"https://index.docker.io/v1/": {"auth": "`+b64std("user:password")+`"}}}`,
		), basicAuthOK),
		validated(sampled(tokenRule("artifactory-api-key", ClassJFrog, "JFrog Artifactory API key (AKCp)",
			[]string{"AKCp"}, `AKCp[A-Za-z0-9]{69}`, tailAlnum, 80, 4.0),
			[]Sample{
				tp("ARTIFACTORY_API_KEY=@@", akcp),
				tp(`curl -H "X-JFrog-Art-Api: @@" https://acme.jfrog.io/artifactory/api/repositories`, akcp),
			},
			"ARTIFACTORY_API_KEY=AKCpxxxxxxxx",
			"AKCp"+fake("akcp", csAlnum, 40),
		), mixedCase(69)),
		validated(sampled(tokenRule("artifactory-reference-token", ClassJFrog, "JFrog Artifactory reference token",
			[]string{"cmVmdGtuOjAx"}, `cmVmdGtuOjAx[A-Za-z0-9]{52}`, tailAlnum, 72, 4.0),
			[]Sample{
				tp("ARTIFACTORY_ACCESS_TOKEN=@@", reftkn),
				tp("Authorization: Bearer @@", reftkn),
			},
			"cmVmdGtuOjAx"+strings.Repeat("A", 52),
			"cmVmdGtuOjAx...",
		), b64Prefix("reftkn:01:")),
		sampled(tokenRule("sonar-token", ClassSonar, "SonarQube or SonarCloud user, project or global analysis token",
			[]string{"squ_", "sqp_", "sqa_"}, `sq[upa]_[a-f0-9]{40}`, tailAlnum, 48, 3.0),
			[]Sample{
				tp("SONAR_TOKEN=@@", sqp),
				tp("sonar-scanner -Dsonar.token=@@ -Dsonar.projectKey=acme-api", squ),
			},
			"SONAR_TOKEN=sqp_xxxxxxxx",
			"sqp_"+fake("sqp", csHex, 30),
		),
	}
}

func devToolRules() []Rule {
	sgp := "sgp_" + fake("sgp1", csHex, 16) + "_" + fake("sgp2", csHex, 40)
	sgpLocal := "sgp_local_" + fake("sgpl", csHex, 40)
	snyk := fakeUUID("snyk")
	pmak := "PMAK-" + fake("pmak1", csHex, 24) + "-" + fake("pmak2", csHex, 34)
	ops := "ops_" + b64std(`{"signInAddress":"my.1password.com","userAuth":{"method":"SRPg-4096","alg":"PBES2g-HS256","iterations":650000,"salt":"`+
		fake("opsalt", csURL, 22)+`"},"email":"`+fake("opmail", "abcdefghijklmnopqrstuvwxyz", 12)+`@1passwordserviceaccounts.com","srpX":"`+fake("opsrp", csHex, 64)+
		`","muk":{"alg":"A256GCM","ext":true,"k":"`+fake("opmuk", csURL, 43)+`","key_ops":["encrypt","decrypt"],"kty":"oct","kid":"mp"},"secretKey":"A3-`+
		fake("opsk", csUpper, 6)+`","throttleSecret":{"seed":"`+fake("opts", csHex, 64)+`"},"deviceUuid":"`+fake("opdev", "abcdefghijklmnopqrstuvwxyz0123456789", 26)+`"}`)
	opKey := "A3-" + fake("opk1", "ABCDEFGHJKLMNPQRSTVWXYZ23456789", 6) + "-" + fake("opk2", "ABCDEFGHJKLMNPQRSTVWXYZ23456789", 11) + "-" +
		fake("opk3", "ABCDEFGHJKLMNPQRSTVWXYZ23456789", 5) + "-" + fake("opk4", "ABCDEFGHJKLMNPQRSTVWXYZ23456789", 5) + "-" +
		fake("opk5", "ABCDEFGHJKLMNPQRSTVWXYZ23456789", 5)
	return []Rule{
		sampled(tokenRule("sourcegraph-access-token", ClassSourcegraph, "Sourcegraph access token",
			[]string{"sgp_"}, `sgp_(?:[a-f0-9]{16}|local)_[a-f0-9]{40}|sgp_[a-f0-9]{40}`, tailAlnum, 64, 3.0),
			[]Sample{
				tp("SRC_ACCESS_TOKEN=@@", sgp),
				tp(`curl -H "Authorization: token @@" https://sourcegraph.acme.test/.api/graphql`, sgpLocal),
			},
			"SRC_ACCESS_TOKEN=sgp_xxxx",
			"sgp_"+fake("sgp1", csHex, 16)+"_short",
		),
		sampled(keyedRule("snyk-api-token", ClassSnyk, "Snyk API token (UUID) next to its key name",
			[]string{"snyk"}, `snyk`, uuidRE, `A-Za-z0-9-`, 3.0),
			[]Sample{
				tp("SNYK_TOKEN=@@", snyk),
				tp(`snyk_api_token: "@@"`, snyk),
			},
			"SNYK_ORG_ID="+fakeUUID("snykorg"),
			"SNYK_TOKEN=00000000-0000-0000-0000-000000000000",
		),
		sampled(tokenRule("postman-api-key", ClassPostman, "Postman API key",
			[]string{"PMAK-"}, `PMAK-[a-f0-9]{24}-[a-f0-9]{34}`, tailAlnum, 72, 3.0),
			[]Sample{
				tp("POSTMAN_API_KEY=@@", pmak),
				tp(`curl -H "X-Api-Key: @@" https://api.getpostman.com/collections`, pmak),
			},
			"POSTMAN_API_KEY=PMAK-xxxxxxxx",
			"PMAK-"+fake("pmak1", csHex, 24)+"-short",
		),
		validated(sampled(tokenRule("onepassword-service-account-token", ClassOnePassword, "1Password service account token",
			[]string{"ops_eyJ"}, `ops_eyJ[A-Za-z0-9+/]{250,}={0,3}`, tailB64, 4096, 4.0),
			[]Sample{
				tp("OP_SERVICE_ACCOUNT_TOKEN=@@", ops),
				tp("export OP_SERVICE_ACCOUNT_TOKEN=\"@@\"\nop read op://ci/db/password", ops),
			},
			"OP_SERVICE_ACCOUNT_TOKEN=ops_eyJ...",
			"ops_eyJ"+fake("opsfp", csB64, 300),
		), b64JSON(4, "")),
		validated(sampled(tokenRule("onepassword-secret-key", ClassOnePassword, "1Password account Secret Key",
			[]string{"A3-"}, `A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}`, tailAlnum, 48, 3.5),
			[]Sample{
				tp("OP_SECRET_KEY=@@", opKey),
				tp("Secret Key: @@\nEmail: ops@acme.test", opKey),
			},
			"Secret Key: A3-XXXXXX-XXXXXXXXXXX-XXXXX-XXXXX-XXXXX",
			"A3-"+fake("opk1", csUpper, 6),
		), hasDigitAndLetter),
	}
}
