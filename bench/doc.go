// Package bench holds cloakroom's end-to-end benchmarks (in bench_test.go: a real
// proxy in front of the fake upstream of internal/fakeapi) and the deterministic corpus
// they send.
//
// The corpus is a coding-agent session in the Anthropic Messages format: a system
// prompt, tool definitions, and turns of user prose, assistant text and thinking,
// tool_use blocks with JSON input, and tool_result blocks holding what agents read
// and run: Go, Python and YAML files, an .env file, shell and test output, git logs
// with commit SHAs, docker logs with UUIDs, package-lock integrity hashes, and base64
// images. A handful of fake secrets is planted in it (see Secrets), generated from
// the seed: an AWS key pair, a GitHub token with a valid checksum, a postgres URI
// password and a PEM private key. Everything else is meant to pass the detector
// untouched.
//
// PathRig and Compare (path.go, compare.go) measure the request path three ways, direct,
// through a plain tunnel and through cloakroom, side by side; cmd/pathbench prints
// their comparison and the proxy's peak memory with large bodies as markdown.
//
// See README.md for what each benchmark measures, how to run them and measured
// figures.
package bench
