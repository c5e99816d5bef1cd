// Package detect finds secrets in bytes: bytes in, findings (rule, class, byte span of
// the secret value only) out. It knows nothing of HTTP, JSON APIs, tokens or storage,
// so a CI scanner or a log scrubber can use it as well as the cloakroom proxy.
//
// # Engine
//
// A Detector runs in three steps, and no regular expression ever runs over the
// whole input:
//
//  1. Prefilter. One pass over the input finds every case-insensitive occurrence of
//     every rule keyword (a token prefix such as "ghp_", or a context word such as
//     "password"). For each position it hashes the next three bytes, folded to lower
//     case, into a 64 Kib bitmap built from the keywords' first three bytes; only where
//     the bit is set does it compare that bucket's keywords with the input (one masked
//     8-byte comparison each). The probes of successive positions do not depend on
//     each other, which makes this several times faster than an Aho-Corasick DFA in
//     Go, whose every step waits on the last table load; four of them share one 8-byte
//     load, in a loop without calls that keeps its values in registers. Text without
//     keywords costs one probe per byte and no allocation.
//  2. Rule bodies, only at keyword hits. A Pattern rule runs its regular expression
//     on a bounded window around the hit (once, at the hit, for Anchored rules); a
//     match touching the window's edge is retried on a wider window, so windows are a
//     speed knob, not a length limit. A Match rule is hand-written Go for shapes a
//     window handles badly (PEM blocks, JWTs, URIs, key = value assignments).
//  3. Validation and resolution. A candidate must pass the rule's MinEntropy and
//     Validate (GitHub CRC-32 checksum, JWT header, base64 user:password) and must
//     not look like documentation (AKIA...EXAMPLE, your-key-here, xxxxx, ${VAR}).
//     Overlapping candidates are resolved so that findings come out sorted and
//     disjoint: a specific rule beats a Generic (context-based) one, then the longer
//     span wins.
//
// ScanField adds Field rules for JSON object members: a value under a key such as
// "client_secret" that looks like a real secret (long enough, not a placeholder, a
// URL, a path, a number or a boolean, plausible entropy) is a secret as a whole. The
// built-in ones run only when the key's normalized name ends like a secret-like stem,
// which one test per member decides ("type", "text" and "content" skip them).
//
// KnownSet finds values the vault already holds anywhere, with no pattern, so a
// secret restored to an agent is caught again when it comes back in another context.
//
// Pattern work is bounded per scan: a rule whose windows have examined twice the
// input runs its pattern once over the rest instead (text dense with its keyword),
// and a run that matches to the widest window's edge is not rescanned at each hit
// inside it.
//
// # Configuration
//
// FileConfig is the detect: section of the config file: custom rules (FileRule,
// keywords derived from the regex's literal prefix with DeriveKeywords when left
// out), disabled rule ids, the opt-in PII rules (PIIRules), an imported gitleaks
// config (ImportGitleaks) and an Allowlist (values, regexes, stopwords, rules, and
// JSON paths that callers check with Detector.SkipPath). FileConfig.Build turns it
// into a Config; it never reads files itself.
//
// # Adding a rule
//
// Add a Rule to the rules_<area>.go file of its area, whose group DefaultRules lists
// in rules.go (or pass your own in Config.Rules), then regenerate RULES.md with
// UPDATE_RULES=1 go test ./detect -run TestRulesDoc:
//
//   - ID (lowercase, unique) and Class (the token class, [a-z0-9]{1,16}).
//   - Keywords: literals of at least two bytes, one of which occurs in or right
//     before every secret the rule finds. Prefer distinctive prefixes ("xoxb-") over
//     common words; set CaseSensitive when the provider's case is fixed.
//   - A body: Pattern with a submatch named "secret" when the match includes context,
//     and Anchored when the keyword starts the secret; or Match for hand-written Go.
//   - MinEntropy and Validate to reject placeholders and near misses.
//   - TruePositives (each with the exact Secret expected) and FalsePositives. Build
//     fake secrets with the helpers in fixtures.go rather than writing them out:
//     TestRuleSamples runs every rule's samples through the whole catalog
//     (TestCatalogSize wants at least two of each kind), and the fuzz targets start
//     from them.
//
// All types here are safe for concurrent use once built. Nothing in this package
// logs, and no error or String method carries a secret value.
package detect
