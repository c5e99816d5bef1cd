// Package e2e proves that real clients work through cloakroom: the official Go SDKs
// (anthropic-sdk-go, openai-go), the Node SDKs (@anthropic-ai/sdk, openai), Claude Code
// and the Codex CLI, each configured with the environment a user would set.
//
// Every test runs a real cloakroom proxy in-process in front of internal/fakeapi, a fake
// upstream that echoes the last user text back as streamed text deltas and as a tool
// call, and answers a turn of tool results with text alone, so that the agent CLIs
// end their sessions by themselves. A canary secret is planted in the prompt; the tests assert that the upstream
// only ever saw a cloak_ token in its place, and that what the client finally holds
// (text and tool-call arguments) carries the real value again.
//
// It is a module of its own so that the SDKs and the Node packages stay out of
// cloakroom's go.mod. Run it with
//
//	(cd e2e && ./setup && go test -race -count=1 ./...)
//
// The Node clients come from node/package-lock.json (./setup runs npm ci when
// node/node_modules is missing). Without node the Node tests skip, except when
// CI=true, where a client that cannot be installed or run fails the test.
package e2e
